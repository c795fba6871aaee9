/**
 * Password guessing and credential stuffing from one IPv6 customer that moves to a fresh /64
 * before each /64 reaches a threshold. Counted per /64 only, such an attacker (one /48 holds
 * 65 536 /64s) stayed under bruteForceAddress and credentialStuffing forever; the two rules now
 * count the enclosing prefix too (`detect.ipv6Prefix`, /48 by default) at `factor` × their
 * thresholds, alerting by default and blocking the prefix only when `block` is opted into.
 * The rules alone, then the whole path (bus, detector, store, block check).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectSchema } from '../../src/core/config/detect-schema.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import type { EventName } from '../../src/core/events.ts';
import { Rules, type Finding } from '../../src/detect/rules.ts';
import { createDetectRepo } from '../../src/store/repos/detect-repo.ts';
import { startDetector, type TestDetector } from './support/detector.ts';

/** Per /64: 5 failures, 4 accounts; per prefix with the default factor 10: 50 failures, 40 accounts. */
const base = {
  bruteForceAddress: { threshold: 5, windowMs: 60_000 },
  credentialStuffing: { threshold: 4, windowMs: 60_000 },
};
const config = detectSchema.parse(base);

/** Attempt `i` of a rotating attacker: account `user<i>`, a fresh /64 of 2001:db8:1::/48 every `per` attempts. */
const rotating = (i: number, per = 3, prefix = '2001:db8:1') => ({
  name: 'identity.login.failed', time: 1000 + i,
  payload: { username: `user${i}`, clientAddress: `${prefix}:${Math.floor(i / per).toString(16)}::${(i % per) + 1}`, reason: 'unknown_user' },
});

const run = (rules: Rules, n: number, event: (i: number) => ReturnType<typeof rotating>): { at: number; f: Finding }[] =>
  Array.from({ length: n }, (_, i) => rules.evaluate(event(i)).map((f) => ({ at: i, f }))).flat();

describe('IPv6 prefix rotation (rules)', () => {
  it('credential stuffing from one /48 on a fresh /64 every 3 accounts (under every /64 threshold) fires at the /48 at factor × the thresholds, once per window, alerting without a block by default', () => {
    const found = run(new Rules(config), 300, (i) => rotating(i));
    assert.deepEqual(found.map(({ at, f }) => [at, f.rule, f.key, f.count]), [
      [39, 'credential_stuffing', '2001:db8:1::/48', 40],
      [49, 'brute_force_address', '2001:db8:1::/48', 50],
    ], 'no /64 ever reaches its threshold; the prefix does, each rule once in the window');
    for (const { f } of found) {
      assert.deepEqual(f.actions, ['alert'], 'a /48 is many users: alert only unless block is opted into');
      assert.deepEqual(f.block, { kind: 'address', value: '2001:db8:1::/48' });
      assert.equal(f.keyKind, 'address');
      assert.equal(f.details.prefixLength, 48);
      assert.equal(f.details.factor, 10);
    }
  });

  it('with `block` opted into, the /48 finding blocks the prefix for the rule\'s blockMs', () => {
    const rules = new Rules(detectSchema.parse({ ...base, ipv6Prefix: { actions: ['alert', 'block'] } }));
    const found = run(rules, 60, (i) => rotating(i));
    assert.deepEqual(found.map(({ f }) => [f.rule, f.actions, f.durationMs]), [
      ['credential_stuffing', ['alert', 'block'], config.credentialStuffing.blockMs],
      ['brute_force_address', ['alert', 'block'], config.bruteForceAddress.blockMs],
    ]);
  });

  it('one host guessing on from its own /64 (its /64 rules alerting only) is reported under its /64 and does not set off its /48, even with the /48 block opted into', () => {
    const rules = new Rules(detectSchema.parse({
      bruteForceAddress: { ...base.bruteForceAddress, actions: ['alert'] }, credentialStuffing: { ...base.credentialStuffing, actions: ['alert'] },
      ipv6Prefix: { actions: ['alert', 'block'] },
    }));
    const found = run(rules, 500, (i) => ({ ...rotating(i), payload: { ...rotating(i).payload, clientAddress: `2001:db8:2:7::${(i + 1).toString(16)}` } }));
    assert.deepEqual(found.map(({ f }) => `${f.rule} ${f.key}`), ['credential_stuffing 2001:db8:2:7::/64', 'brute_force_address 2001:db8:2:7::/64']);
  });

  it('the prefix length and factor are settings: a /56 with factor 2 fires at twice the /64 thresholds, keyed by the /56, and another /56 of the same /48 counts apart', () => {
    const rules = new Rules(detectSchema.parse({ ...base, ipv6Prefix: { length: 56, factor: 2 } }));
    // A fresh /64 of 2001:db8:1:<high>00::/56 every 3 attempts.
    const in56 = (i: number, high: string) => ({ ...rotating(i), payload: { ...rotating(i).payload, clientAddress: `2001:db8:1:${high}${Math.floor(i / 3).toString(16).padStart(2, '0')}::1` } });
    assert.deepEqual(run(rules, 10, (i) => in56(i, '1')).map(({ at, f }) => [at, f.rule, f.key, f.count]), [
      [7, 'credential_stuffing', '2001:db8:1:100::/56', 8],
      [9, 'brute_force_address', '2001:db8:1:100::/56', 10],
    ]);
    assert.deepEqual(run(rules, 7, (i) => in56(i + 100, '2')), []);
  });

  it('NAT64 addresses (each another IPv4 client) have no prefix level: rotating through them fires nothing (IPv4 clients count per network: ipv4-prefix-rotation.test.ts)', () => {
    const rules = new Rules(config);
    const nat64 = run(rules, 600, (i) => ({ ...rotating(i + 1000), payload: { ...rotating(i + 1000).payload, clientAddress: `64:ff9b::c633:${Math.floor(i / 3).toString(16)}` } }));
    assert.deepEqual(nat64, []);
  });

  it('switched off (`detect.ipv6Prefix.enabled: false`), the prefix level counts nothing; switched on by reload, it counts from zero', () => {
    const rules = new Rules(detectSchema.parse({ ...base, ipv6Prefix: { enabled: false } }));
    assert.deepEqual(run(rules, 300, (i) => rotating(i)), []);
    rules.configure(config);
    assert.deepEqual(run(rules, 39, (i) => rotating(i + 1000)), [], 'the 300 attempts made while off do not count');
    assert.deepEqual(run(rules, 1, (i) => rotating(i + 1039)).map(({ f }) => [f.rule, f.key]), [['credential_stuffing', '2001:db8:1::/48']]);
  });

  it('a factor lowered by reload during a rotation fires at the next attempt, counting the attempts made before it', () => {
    const rules = new Rules(config);
    assert.deepEqual(run(rules, 30, (i) => rotating(i)), []);
    rules.configure(detectSchema.parse({ ...base, ipv6Prefix: { factor: 5 } }));
    assert.deepEqual(run(rules, 1, (i) => rotating(i + 30)).map(({ f }) => [f.rule, f.key, f.count]), [
      ['brute_force_address', '2001:db8:1::/48', 25],
      ['credential_stuffing', '2001:db8:1::/48', 20],
    ]);
  });

  it('a prefix length changed by reload starts the prefix counts over (they were counts of other keys)', () => {
    const rules = new Rules(config);
    assert.deepEqual(run(rules, 39, (i) => rotating(i)), []);
    rules.configure(detectSchema.parse({ ...base, ipv6Prefix: { length: 40 } }));
    assert.deepEqual(run(rules, 39, (i) => rotating(i + 39)), [], 'the 39 attempts counted under the /48 are not carried over to the /40');
    assert.deepEqual(run(rules, 1, (i) => rotating(i + 78)).map(({ f }) => [f.rule, f.key]), [['credential_stuffing', '2001:db8::/40']]);
  });

  it('`lock` is refused for the prefix level (it has no account), naming the key', () => {
    assert.throws(() => parseConfig({ detect: { ipv6Prefix: { actions: ['alert', 'lock'] } } }), /detect\.ipv6Prefix\.actions/);
    assert.throws(() => parseConfig({ detect: { ipv6Prefix: { length: 64 } } }), /detect\.ipv6Prefix\.length/);
  });
});

describe('IPv6 prefix rotation (detector, store and block check)', () => {
  let d: TestDetector;

  before(async () => { d = await startDetector({ ...base, ipv6Prefix: { actions: ['alert', 'block'] } }, 'prefix-0'); });
  after(async () => { await d?.close(); });

  it('a customer rotating /64s through its /48 is blocked as a whole once `block` is opted into: its next, unused /64 is refused, the neighbouring /48 is not', async () => {
    for (let i = 0; i < 40; i++) (d.bus.publish as (n: EventName, p: unknown) => void)('identity.login.failed', rotating(i, 3, '2001:db8:9').payload);
    await d.settle();
    assert.deepEqual(d.alerts.map((a) => { const p = a.payload as { rule: string; key: string; actions: string[] }; return [p.rule, p.key, p.actions]; }), [['credential_stuffing', '2001:db8:9::/48', ['alert', 'block']]]);
    const blocks = await createDetectRepo(d.store.db).activeBlocks(Date.now());
    assert.deepEqual(blocks.map((b) => [b.kind, b.value]), [['address', '2001:db8:9::/48']]);
    assert.equal(d.ext.blockCheck.isBlocked('2001:db8:9:ffff::1')?.value, '2001:db8:9::/48', 'a /64 the attacker has not used yet');
    assert.equal(d.ext.blockCheck.isBlocked('2001:db8:a::1'), undefined);
  });
});
