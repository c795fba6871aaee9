/**
 * A problem message goes to stderr, the log and the config.rejected audit event. A value that
 * came from the environment is usually a secret: it is never quoted back, the variable is named.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigFile, parseConfig, type ConfigProblem } from '../../src/core/config/load.ts';
import { compileCheck } from '../../src/core/config/compile-check.ts';

function problemsOf(fn: () => unknown): ConfigProblem[] {
  try { fn(); } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.doesNotMatch(err.message + String(err.detail), /hunter2/);
    return err.problems;
  }
  assert.fail('the configuration was accepted');
}

describe('secrets in configuration problems', () => {
  it('a secret substituted where it does not belong (trustedProxies, route host, route path) is not quoted back; the variable is named', () => {
    const problems = problemsOf(() => parseConfig({
      trustedProxies: ['${GH_OIDC_SECRET}'],
      upstreams: { a: { url: 'http://127.0.0.1:1' } },
      routes: [{ id: 'r', host: 'x.${GH_OIDC_SECRET}', upstream: 'a' }, { id: 's', path: '/a/../${GH_OIDC_SECRET}', upstream: 'a' }],
    }, { env: { GH_OIDC_SECRET: 'hunter2+s3cret_Value' }, crossCheck: compileCheck }));
    const text = problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('\n');
    for (const path of ['trustedProxies.0', 'routes.0.host', 'routes.1.path']) assert.ok(problems.some((p) => p.path.join('.') === path), `${path} in\n${text}`);
    assert.doesNotMatch(text, /hunter2/);
    assert.match(text, /\$\{GH_OIDC_SECRET\}/);
  });

  it('an extension cross-check that quotes a substituted value does not leak it', () => {
    const problems = problemsOf(() => parseConfig({ instanceId: '${GH_TOKEN}' }, {
      env: { GH_TOKEN: 'hunter2-token' },
      crossCheck: (c) => [{ path: ['instanceId'], message: `"${c.instanceId}" is taken` }],
    }));
    assert.deepEqual(problems, [{ path: ['instanceId'], message: '"${GH_TOKEN}" is taken' }]);
  });

  it('an unquoted secret that starts with "!" or "*" (read by YAML as a tag or an alias) is not quoted back in the parse error; its line is', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-secret-yaml-'));
    try {
      for (const value of ['!hunter2-Passw0rd', '*hunter2-Passw0rd', '!!hunter2-Passw0rd', '!<hunter2-Passw0rd>']) {
        const file = join(dir, 'c.yaml');
        await writeFile(file, `dataDir: ./data\npki:\n  key: ${value}\n`);
        const problems = await loadConfigFile(file, { env: { NODE_ENV: 'test' } }).then(() => assert.fail(`accepted ${value}`), (err: unknown) => {
          assert.ok(err instanceof ConfigError, String(err));
          assert.doesNotMatch(err.message + String(err.detail), /hunter2/);
          return err.problems;
        });
        const text = problems.map((p) => p.message).join('\n');
        assert.doesNotMatch(text, /hunter2/, `${value}: ${text}`);
        assert.match(text, value.startsWith('*') ? /alias/ : /tag.*line 3/, `${value}: ${text}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
