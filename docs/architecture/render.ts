/**
 * Renders the architecture diagrams (PlantUML, C4) to SVG next to their sources.
 * `--check` renders into a temporary directory and exits 1 when a committed SVG is stale
 * or missing, so CI can keep the pictures honest:
 *
 *   npx node docs/architecture/render.ts          # re-render
 *   npx node docs/architecture/render.ts --check  # CI
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, copyFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const sources = readdirSync(here).filter((f) => f.endsWith('.puml'));
const out = mkdtempSync(join(tmpdir(), 'gatehouse-diagrams-'));
try {
  for (const s of sources) copyFileSync(join(here, s), join(out, s));
  execFileSync('plantuml', ['-tsvg', ...sources.map((s) => join(out, s))], { stdio: 'inherit' });
  let stale = 0;
  for (const s of sources) {
    const svg = s.replace(/\.puml$/, '.svg');
    const fresh = readFileSync(join(out, svg));
    if (process.argv.includes('--check')) {
      // PlantUML embeds the source in the SVG, so an unchanged source renders byte-identically.
      if (!existsSync(join(here, svg)) || !readFileSync(join(here, svg)).equals(fresh)) { console.error(`stale: docs/architecture/${svg} (run npx node docs/architecture/render.ts)`); stale++; }
    } else {
      copyFileSync(join(out, svg), join(here, svg));
      console.log(`rendered docs/architecture/${svg}`);
    }
  }
  if (stale) process.exitCode = 1;
} finally {
  rmSync(out, { recursive: true, force: true });
}
