/**
 * YAML keys may be numbers, booleans, null or collections, a JavaScript object's keys are
 * strings: `1` and `"1"` are two keys to the YAML parser's duplicate check and one key after
 * conversion, where the last silently wins. What the file says is read exactly or refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigFile } from '../../src/core/config/load.ts';

let dir: string;
let n = 0;
async function fileOf(text: string): Promise<string> {
  const file = join(dir, `k${n++}.yaml`);
  await writeFile(file, text);
  return file;
}
async function problemsOf(text: string): Promise<string[]> {
  try { await loadConfigFile(await fileOf(text), { env: { NODE_ENV: 'test' } }); } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path.join('.')}: ${p.message}`);
  }
  assert.fail(`accepted:\n${text}`);
}

const u = (port: number) => `{ url: "http://127.0.0.1:${port}" }`;

describe('configuration keys that collide once read', () => {
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'gh-keys-')); });
  after(() => rm(dir, { recursive: true, force: true }));

  it('refuses keys 1 and "1" (and 1.0, true and "true", !!str) that the parser sees as two and the configuration as one, instead of the last silently winning', async () => {
    for (const [a, b] of [['1', '"1"'], ['1.0', '"1"'], ['true', '"true"'], ['1', '!!str 1'], ['null', '""']]) {
      const problems = await problemsOf(`upstreams:\n  ${a}: ${u(1)}\n  ${b}: ${u(2)}\n`);
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, /^upstreams: .*duplicate key .* at line 3, column \d+$/, `${a} / ${b}: ${problems[0]}`);
    }
    const nested = await problemsOf(`routes:\n  - id: a\n    path: /a\n    upstream: a\n    timeouts: { 1: 1, "1": 2 }\nupstreams: { a: ${u(1)} }\n`);
    assert.ok(nested.some((p) => /^routes\.0\.timeouts: .*duplicate key/.test(p)), nested.join('\n'));
  });

  it('refuses a list, map or alias as a key instead of turning it into a string (with a warning from the parser on stderr)', async () => {
    for (const key of ['? [a, b]\n', '? { a: 1 }\n', 'x: &k a\n*k ']) {
      const problems = await problemsOf(`${key}: 1\n`);
      assert.ok(problems.some((p) => /key must be a plain/.test(p)), `${JSON.stringify(key)}: ${problems.join('\n')}`);
    }
    const file = await fileOf('? [a, b]\n: 1\n');
    const r = spawnSync(process.execPath, ['src/cli/main.ts', 'config', 'validate', file], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.doesNotMatch(r.stderr, /Warning|stringified/, r.stderr);
  });

  it('still reads numeric and boolean keys that do not collide, as their strings', async () => {
    const loaded = await loadConfigFile(await fileOf(`upstreams:\n  1: ${u(1)}\n  "2": ${u(2)}\n  true: ${u(3)}\n`), { env: { NODE_ENV: 'test' } });
    assert.deepEqual(Object.keys(loaded.config.upstreams), ['1', '2', 'true']);
  });
});
