/** Blocks and locks that end while the rule that made them still holds back its next finding. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectSchema } from '../../src/core/config/detect-schema.ts';
import { Rules, type Finding } from '../../src/detect/rules.ts';

const fail = (username: string, clientAddress: string) => ({ name: 'identity.login.failed', payload: { username, clientAddress, reason: 'bad_credentials' } });
const only = (rule: string) => (f: Finding) => f.rule === rule;

describe('detection: expired blocks and the one-alert-per-window rule', () => {
  it('a client whose address block (blockMs shorter than the window) has expired is blocked again when it goes on guessing, not left alone for the rest of the window', () => {
    const rules = new Rules(detectSchema.parse({ bruteForceAddress: { threshold: 3, windowMs: 3_600_000, blockMs: 60_000 } }));
    const guess = (t: number) => rules.evaluate({ ...fail('alice', '203.0.113.5'), time: t }).filter(only('brute_force_address'));
    assert.equal([0, 1, 2].flatMap((i) => guess(i)).length, 1);
    // Blocked for a minute (requests refused at the shield are not login failures); then it comes back.
    const after = [0, 1, 2, 3, 4, 5].map((i) => guess(61_000 + i).length);
    assert.deepEqual(after, [0, 0, 1, 0, 0, 0]);
  });

  it('an account lock shorter than the window is renewed when the guessing goes on after it ends', () => {
    const rules = new Rules(detectSchema.parse({ bruteForceAccount: { threshold: 3, windowMs: 3_600_000, blockMs: 60_000 } }));
    const guess = (t: number) => rules.evaluate({ ...fail('alice', `198.51.100.${t % 200}`), time: t }).filter(only('brute_force_account'));
    assert.equal([0, 1, 2].flatMap((i) => guess(i)).length, 1);
    assert.equal([0, 1, 2].flatMap((i) => guess(70_000 + i)).length, 1);
  });

  it('a rule that only alerts still raises one alert per window however long the attack goes on', () => {
    const rules = new Rules(detectSchema.parse({ bruteForceAddress: { threshold: 3, windowMs: 3_600_000, blockMs: 60_000, actions: ['alert'] } }));
    const out = Array.from({ length: 300 }, (_, i) => rules.evaluate({ ...fail('alice', '203.0.113.6'), time: i * 1000 })).flat().filter(only('brute_force_address'));
    assert.equal(out.length, 1);
  });
});
