/** Spellings of one client address that split its counts or merge other clients' into them. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectSchema } from '../../src/core/config/detect-schema.ts';
import { Rules, type Finding } from '../../src/detect/rules.ts';

const fail = (username: string, clientAddress: string) => ({ name: 'identity.login.failed', payload: { username, clientAddress, reason: 'bad_credentials' } });
const only = (rule: string) => (f: Finding) => f.rule === rule;

describe('detection: client address spellings', () => {
  // The identity provider embedded on a dual-stack listener without the gateway reports the
  // socket's address: IPv4 clients as ::ffff:a.b.c.d.
  it('password guessing from an IPv4 client reported once as 192.0.2.7 and once as ::ffff:192.0.2.7 adds up, and blocks the IPv4 address', () => {
    const rules = new Rules(detectSchema.parse({ bruteForceAddress: { threshold: 4, windowMs: 60_000 } }));
    const spellings = ['192.0.2.7', '::ffff:192.0.2.7', '::FFFF:c000:207', '0:0:0:0:0:ffff:192.0.2.7'];
    const out = spellings.flatMap((a, i) => rules.evaluate({ ...fail(`u${i}`, a), time: 1000 + i })).filter(only('brute_force_address'));
    assert.equal(out.length, 1);
    assert.deepEqual(out[0]!.block, { kind: 'address', value: '192.0.2.7' });
  });

  it('IPv4-mapped addresses of different IPv4 clients are not merged into one ::/64: no one is blocked for the others\' failures', () => {
    const rules = new Rules(detectSchema.parse({ bruteForceAddress: { threshold: 4, windowMs: 60_000 }, credentialStuffing: { threshold: 4, windowMs: 60_000 } }));
    const out = [1, 2, 3, 4, 5, 6].flatMap((i) => rules.evaluate({ ...fail(`user${i}`, `::ffff:198.51.100.${i}`), time: 1000 + i }));
    assert.deepEqual(out.filter((f) => f.keyKind === 'address').map((f) => f.key), []);
  });
});
