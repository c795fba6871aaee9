/**
 * `${NAME}` substitution: done on parsed string values (never on the file's text), never
 * recursive, and nothing it cannot substitute faithfully is let through as a literal.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigFile, parseConfig, type ConfigProblem } from '../../src/core/config/load.ts';

function problemsOf(fn: () => unknown): ConfigProblem[] {
  try { fn(); } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('the configuration was accepted');
}
const lines = (problems: ConfigProblem[]) => problems.map((p) => `${p.path.join('.')}: ${p.message}`);

describe('${NAME} substitution', () => {
  it('refuses an unset variable, naming it and the key', () => {
    const problems = lines(problemsOf(() => parseConfig({ pki: { key: '${GH_TEST_UNSET}' } }, { env: {} })));
    assert.deepEqual(problems, ['pki.key: environment variable GH_TEST_UNSET is not set']);
  });

  it('refuses a variable set to the empty string (a CI secret that was never configured) instead of substituting nothing', () => {
    const problems = lines(problemsOf(() => parseConfig({ dataDir: '${GH_DATA}/gatehouse' }, { env: { GH_DATA: '' } })));
    assert.deepEqual(problems, ['dataDir: environment variable GH_DATA is empty']);
  });

  for (const written of ['${GATEHOUSE_PKI_KEY:?the master key must be set here}', '${GATEHOUSE_PKI_KEY:-0123456789abcdef0123456789abcdef}', '${ GATEHOUSE_PKI_KEY }', '${GATEHOUSE_PKI_KEY', '0123456789abcdef0123456789abcdef${}']) {
    it(`refuses the unsupported reference ${JSON.stringify(written)} instead of keeping it as a literal master key`, () => {
      const problems = problemsOf(() => parseConfig({ pki: { key: written } }, { env: { GATEHOUSE_PKI_KEY: 'k'.repeat(40) } }));
      assert.equal(problems.length, 1, lines(problems).join('\n'));
      assert.deepEqual(problems[0]!.path, ['pki', 'key']);
      assert.match(problems[0]!.message, /\$\{NAME\}/);
    });
  }

  it('a value holding newlines, ": ", "#", quotes, YAML flow syntax or ${OTHER} stays one string: no key injected, no second expansion', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-env-'));
    try {
      const file = join(dir, 'c.yaml');
      await writeFile(file, 'dataDir: ${GH_DIR}\ninstanceId: "${GH_ID}"\n');
      const hostile = '/x\nmode: production\nlisteners: {https: {port: 1}} # "\' ${GH_ID}';
      const { config } = await loadConfigFile(file, { env: { GH_DIR: hostile, GH_ID: 'edge-1', NODE_ENV: 'test' } });
      assert.equal(config.dataDir, hostile);
      assert.equal(config.mode, 'development');
      assert.equal(config.listeners.https.port, 8443);
      assert.equal(config.instanceId, 'edge-1');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('does not substitute in keys', () => {
    const problems = lines(problemsOf(() => parseConfig({ '${GH_KEY}': 1 }, { env: { GH_KEY: 'mode' } })));
    assert.deepEqual(problems, [': unknown key(s): ${GH_KEY}']);
  });
});
