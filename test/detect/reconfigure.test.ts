/**
 * The rules under a reloaded configuration (Rules.configure, pure): what was counted is
 * kept where the rule still runs and measured against the new settings; a rule switched off
 * forgets its counts; a new rate bucket length starts the baselines over.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectSchema } from '../../src/core/config/detect-schema.ts';
import { Rules } from '../../src/detect/rules.ts';

const settings = (detect: Record<string, unknown>) => detectSchema.parse(detect);
const guess = (time: number, username = 'alice', clientAddress = '198.51.100.7') => ({ name: 'identity.login.failed', time, payload: { username, clientAddress, reason: 'bad_credentials' } });
const fired = (rules: Rules, time: number, rule: string, username?: string) => rules.evaluate(guess(time, username)).filter((f) => f.rule === rule);

describe('detection rules after a reload', () => {
  it('an attacker already past a threshold lowered by reload is caught at the next guess, with the new actions and block duration', () => {
    const rules = new Rules(settings({ bruteForceAddress: { threshold: 20, windowMs: 60_000 } }));
    for (let t = 1; t <= 6; t++) assert.deepEqual(fired(rules, t, 'brute_force_address', `user-${t}`), []);
    rules.configure(settings({ bruteForceAddress: { threshold: 5, windowMs: 60_000, actions: ['alert'], blockMs: 120_000 } }));
    const [finding] = fired(rules, 7, 'brute_force_address', 'user-7');
    assert.ok(finding, 'seven guesses against a threshold of five');
    assert.equal(finding.count, 5);
    assert.equal(finding.windowStart, 3, 'the last five guesses, three of them counted before the reload');
    assert.deepEqual(finding.actions, ['alert']);
    assert.equal(finding.durationMs, 120_000);
  });

  it('a window shortened by reload drops the guesses that fall out of it', () => {
    const rules = new Rules(settings({ bruteForceAccount: { threshold: 3, windowMs: 600_000 } }));
    fired(rules, 0, 'brute_force_account');
    fired(rules, 100_000, 'brute_force_account');
    rules.configure(settings({ bruteForceAccount: { threshold: 3, windowMs: 60_000 } }));
    assert.deepEqual(fired(rules, 110_000, 'brute_force_account'), [], 'the guess at 0 is outside the new one-minute window');
    assert.equal(fired(rules, 120_000, 'brute_force_account').length, 1);
  });

  it('a rule switched off by reload stops firing and forgets its counts; switched on again it starts from zero', () => {
    const rules = new Rules(settings({ bruteForceAccount: { threshold: 3, windowMs: 60_000 } }));
    fired(rules, 1, 'brute_force_account');
    fired(rules, 2, 'brute_force_account');
    rules.configure(settings({ bruteForceAccount: { enabled: false, threshold: 3, windowMs: 60_000 } }));
    assert.deepEqual(fired(rules, 3, 'brute_force_account'), []);
    rules.configure(settings({ bruteForceAccount: { threshold: 3, windowMs: 60_000 } }));
    assert.deepEqual(fired(rules, 4, 'brute_force_account'), [], 'one guess since switched on');
    assert.deepEqual(fired(rules, 5, 'brute_force_account'), []);
    assert.equal(fired(rules, 6, 'brute_force_account').length, 1);
  });

  it('switching all detection off by reload stops every rule', () => {
    const rules = new Rules(settings({ bruteForceAccount: { threshold: 1, windowMs: 60_000 } }));
    rules.configure(settings({ enabled: false, bruteForceAccount: { threshold: 1, windowMs: 60_000 } }));
    assert.deepEqual(rules.evaluate(guess(1)), []);
  });

  it('a new rate bucket length starts the baselines over (warm-up again); other rate settings keep them', () => {
    const rate = { bucketMs: 1000, factor: 5, minRequests: 20, warmupBuckets: 3, alpha: 0.5 };
    const request = (time: number) => ({ name: 'gateway.request', time, payload: { status: 200, subject: 'svc-a', clientAddress: '10.0.0.1' } });
    const burst = (rules: Rules, bucketMs: number, bucket: number, n: number) => {
      let hits = 0;
      for (let i = 0; i < n; i++) hits += rules.evaluate(request(bucket * bucketMs + i)).filter((f) => f.rule === 'rate_anomaly').length;
      return hits;
    };
    const warmed = () => {
      const rules = new Rules(settings({ rateAnomaly: rate }));
      for (let b = 0; b <= 4; b++) burst(rules, 1000, b, 4);
      return rules;
    };
    const kept = warmed();
    kept.configure(settings({ rateAnomaly: { ...rate, factor: 3 } }));
    assert.equal(burst(kept, 1000, 5, 100), 1, 'baseline kept: fires');
    const restarted = warmed();
    restarted.configure(settings({ rateAnomaly: { ...rate, bucketMs: 2000 } }));
    assert.equal(burst(restarted, 2000, 5, 100), 0, 'no history in buckets of the new length yet');
  });
});
