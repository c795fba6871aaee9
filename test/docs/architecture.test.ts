/**
 * The architecture diagrams are code (docs/architecture/*.puml, PlantUML C4) with committed
 * SVGs; this runs the render script's `--check` so a changed diagram with a stale picture
 * fails CI. Needs Debian's `plantuml` (installed by .ci/run); without it the test skips with
 * a reason, or fails under GATEHOUSE_REQUIRE_SERVICES=1.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const found = spawnSync('plantuml', ['-version'], { encoding: 'utf8' });
let skip: string | false = false;
// Debian's PlantUML 1.2020 prints its version and exits with 250, so the output is what tells.
if (found.error || !/PlantUML version/.test(`${found.stdout}${found.stderr}`)) {
  if (process.env.GATEHOUSE_REQUIRE_SERVICES === '1') throw new Error('GATEHOUSE_REQUIRE_SERVICES=1 but plantuml is not installed');
  skip = 'plantuml is not installed (apt-get install plantuml); diagram check skipped';
  console.log(`# SKIP: ${skip}`);
}

describe('architecture diagrams', { skip }, () => {
  it('every committed SVG is what its PlantUML source renders to (render.ts --check)', () => {
    const run = spawnSync(process.execPath, [join(root, 'docs', 'architecture', 'render.ts'), '--check'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  });
});
