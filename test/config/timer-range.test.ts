/**
 * Node.js timers hold at most 2^31 - 1 ms (~24.8 days); a longer setInterval is set to 1 ms
 * with only a process warning. A configured interval past that would not mean "rarely" but
 * "every millisecond": the authn maintenance would prune and re-read revocations from the
 * store in a tight loop. Such values are refused.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/core/config/load.ts';

function problemsOf(document: unknown): string[] {
  try { parseConfig(document, { env: { NODE_ENV: 'test' } }); } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => p.path.join('.'));
  }
  assert.fail('accepted');
}

describe('intervals that run as timers', () => {
  it('refuses authn.maintenance.pruneIntervalMs and revocationRefreshMs past a timer\'s range (25 days) instead of running them every millisecond against the store', () => {
    const tooLong = 25 * 24 * 3600 * 1000;
    assert.deepEqual(problemsOf({ authn: { maintenance: { pruneIntervalMs: tooLong, revocationRefreshMs: tooLong } } }),
      ['authn.maintenance.pruneIntervalMs', 'authn.maintenance.revocationRefreshMs']);
  });

  it('accepts the longest interval a timer holds', () => {
    const longest = 2 ** 31 - 1;
    const { config } = parseConfig({ authn: { maintenance: { pruneIntervalMs: longest, revocationRefreshMs: longest } } }, { env: { NODE_ENV: 'test' } });
    assert.equal(config.authn.maintenance.pruneIntervalMs, longest);
  });
});
