/**
 * authn.session.touchIntervalMs must be less than idleTimeoutMs. The store learns of a
 * session's activity at most every touch interval, and the store ends sessions by it (pruning,
 * other instances, this instance once its cache lost the entry): with a touch interval at or
 * past the idle timeout, a session in constant use would be ended as idle before its activity
 * was ever written. Refused by path, by the validator and by `gatehouse config validate`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfig } from '../../src/core/config/load.ts';

function problemsOf(document: unknown): string[] {
  try { parseConfig(document, { env: { NODE_ENV: 'test' } }); } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path.join('.')}: ${p.message}`);
  }
  return [];
}

const REFUSED = /^authn\.session\.touchIntervalMs: must be less than authn\.session\.idleTimeoutMs/;

describe('authn.session.touchIntervalMs against idleTimeoutMs', () => {
  it('refuses a touch interval past the idle timeout (activity recorded only after the session ended as idle), naming authn.session.touchIntervalMs', () => {
    const problems = problemsOf({ authn: { session: { idleTimeoutMs: 300_000, touchIntervalMs: 600_000 } } });
    assert.equal(problems.length, 1, problems.join('; '));
    assert.match(problems[0]!, REFUSED);
  });

  it('refuses a touch interval equal to the idle timeout', () => {
    const problems = problemsOf({ authn: { session: { idleTimeoutMs: 300_000, touchIntervalMs: 300_000 } } });
    assert.equal(problems.length, 1, problems.join('; '));
    assert.match(problems[0]!, REFUSED);
  });

  it('refuses an idle timeout lowered to the default touch interval (60 s) without lowering the touch interval', () => {
    const problems = problemsOf({ authn: { session: { idleTimeoutMs: 60_000 } } });
    assert.equal(problems.length, 1, problems.join('; '));
    assert.match(problems[0]!, REFUSED);
  });

  it('accepts the defaults and a touch interval below the idle timeout', () => {
    assert.deepEqual(problemsOf({}), []);
    assert.deepEqual(problemsOf({ authn: { session: { idleTimeoutMs: 60_000, touchIntervalMs: 15_000 } } }), []);
  });

  it('gatehouse config validate exits 1 and names the key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-session-touch-'));
    try {
      const file = join(dir, 'gatehouse.yaml');
      writeFileSync(file, 'authn:\n  session: { idleTimeoutMs: 300000, touchIntervalMs: 900000 }\n');
      const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'src/cli/main.ts'), 'config', 'validate', file], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /^error ERR_CONFIG_INVALID: /);
      assert.match(r.stderr, /authn\.session\.touchIntervalMs: must be less than authn\.session\.idleTimeoutMs/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
