/**
 * Password guessing and credential stuffing from many addresses of one IPv4 network (a /24
 * rented from a hoster or cloud), moving to the next address before each reaches a threshold.
 * Counted per address only, such an attacker stayed under bruteForceAddress and
 * credentialStuffing for as long as it had addresses; the two rules now count the network too
 * (`detect.ipv4Prefix`, /24 by default) at `factor` × their thresholds, alerting by default and
 * blocking the network only when `block` is opted into. The rules alone, then the whole path
 * (bus, detector, store, block check).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectSchema } from '../../src/core/config/detect-schema.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import type { EventName } from '../../src/core/events.ts';
import { Rules, type Finding } from '../../src/detect/rules.ts';
import { createDetectRepo } from '../../src/store/repos/detect-repo.ts';
import { startDetector, type TestDetector } from './support/detector.ts';

/** Per address: 5 failures, 4 accounts; per network with the default factor 10: 50 failures, 40 accounts. */
const base = {
  bruteForceAddress: { threshold: 5, windowMs: 60_000 },
  credentialStuffing: { threshold: 4, windowMs: 60_000 },
};
const config = detectSchema.parse(base);

/** Attempt `i`: account `user<i>`, the next address of `<net>.0/24` every `per` attempts. */
const rotating = (i: number, per = 3, net = '198.51.100') => ({
  name: 'identity.login.failed', time: 1000 + i,
  payload: { username: `user${i}`, clientAddress: `${net}.${Math.floor(i / per) + 1}`, reason: 'unknown_user' },
});

const run = (rules: Rules, n: number, event: (i: number) => ReturnType<typeof rotating>): { at: number; f: Finding }[] =>
  Array.from({ length: n }, (_, i) => rules.evaluate(event(i)).map((f) => ({ at: i, f }))).flat();

describe('IPv4 network rotation (rules)', () => {
  it('credential stuffing from one /24 on a new address every 3 accounts (under every address threshold) fires at the /24 at factor × the thresholds, once per window, alerting without a block by default', () => {
    const found = run(new Rules(config), 300, (i) => rotating(i));
    assert.deepEqual(found.map(({ at, f }) => [at, f.rule, f.key, f.count]), [
      [39, 'credential_stuffing', '198.51.100.0/24', 40],
      [49, 'brute_force_address', '198.51.100.0/24', 50],
    ], 'no address ever reaches its threshold; the /24 does, each rule once in the window');
    for (const { f } of found) {
      assert.deepEqual(f.actions, ['alert'], 'a /24 is many users behind carrier-grade NAT: alert only unless block is opted into');
      assert.deepEqual(f.block, { kind: 'address', value: '198.51.100.0/24' });
      assert.equal(f.details.prefixLength, 24);
      assert.equal(f.details.factor, 10);
    }
  });

  it('an IPv4-mapped client address (a dual-stack socket\'s ::ffff:a.b.c.d) counts in its IPv4 network', () => {
    const found = run(new Rules(config), 40, (i) => ({ ...rotating(i), payload: { ...rotating(i).payload, clientAddress: `::ffff:${rotating(i).payload.clientAddress}` } }));
    assert.deepEqual(found.map(({ f }) => [f.rule, f.key]), [['credential_stuffing', '198.51.100.0/24']]);
  });

  it('one host guessing on from its own address (its rules alerting only) is reported under its address and does not set off its /24, even with the /24 block opted into', () => {
    const rules = new Rules(detectSchema.parse({
      bruteForceAddress: { ...base.bruteForceAddress, actions: ['alert'] }, credentialStuffing: { ...base.credentialStuffing, actions: ['alert'] },
      ipv4Prefix: { actions: ['alert', 'block'] },
    }));
    const found = run(rules, 500, (i) => ({ ...rotating(i), payload: { ...rotating(i).payload, clientAddress: '203.0.113.7' } }));
    assert.deepEqual(found.map(({ f }) => `${f.rule} ${f.key}`), ['credential_stuffing 203.0.113.7', 'brute_force_address 203.0.113.7']);
  });

  it('the length and factor are settings: a /16 with factor 2 fires at twice the address thresholds, keyed by the /16; switched off, nothing; reloaded with another length, counts start over', () => {
    const wide = new Rules(detectSchema.parse({ ...base, ipv4Prefix: { length: 16, factor: 2 } }));
    assert.deepEqual(run(wide, 8, (i) => rotating(i, 1)).map(({ at, f }) => [at, f.rule, f.key]), [[7, 'credential_stuffing', '198.51.0.0/16']]);
    const off = new Rules(detectSchema.parse({ ...base, ipv4Prefix: { enabled: false } }));
    assert.deepEqual(run(off, 300, (i) => rotating(i)), []);
    const reloaded = new Rules(config);
    assert.deepEqual(run(reloaded, 39, (i) => rotating(i)), []);
    reloaded.configure(detectSchema.parse({ ...base, ipv4Prefix: { length: 23 } }));
    assert.deepEqual(run(reloaded, 39, (i) => rotating(i + 39)), [], 'the 39 attempts counted under the /24 are not carried over to the /23');
    assert.deepEqual(run(reloaded, 1, (i) => rotating(i + 78)).map(({ f }) => [f.rule, f.key]), [['credential_stuffing', '198.51.100.0/23']]);
  });

  it('`lock` and lengths outside /8…/31 are refused for the network level, naming the key', () => {
    assert.throws(() => parseConfig({ detect: { ipv4Prefix: { actions: ['alert', 'lock'] } } }), /detect\.ipv4Prefix\.actions/);
    assert.throws(() => parseConfig({ detect: { ipv4Prefix: { length: 32 } } }), /detect\.ipv4Prefix\.length/);
    assert.throws(() => parseConfig({ detect: { ipv4Prefix: { length: 7 } } }), /detect\.ipv4Prefix\.length/);
  });
});

describe('IPv4 network rotation (detector, store and block check)', () => {
  let d: TestDetector;

  before(async () => { d = await startDetector({ ...base, ipv4Prefix: { actions: ['alert', 'block'] } }, 'prefix4-0'); });
  after(async () => { await d?.close(); });

  it('an attacker rotating through the addresses of its /24 is blocked as a whole once `block` is opted into: an address it has not used yet is refused, the next /24 is not', async () => {
    for (let i = 0; i < 40; i++) (d.bus.publish as (n: EventName, p: unknown) => void)('identity.login.failed', rotating(i, 3, '192.0.2').payload);
    await d.settle();
    assert.deepEqual(d.alerts.map((a) => { const p = a.payload as { rule: string; key: string; actions: string[] }; return [p.rule, p.key, p.actions]; }), [['credential_stuffing', '192.0.2.0/24', ['alert', 'block']]]);
    const blocks = await createDetectRepo(d.store.db).activeBlocks(Date.now());
    assert.deepEqual(blocks.map((b) => [b.kind, b.value]), [['address', '192.0.2.0/24']]);
    assert.equal(d.ext.blockCheck.isBlocked('192.0.2.250')?.value, '192.0.2.0/24', 'an address the attacker has not used yet');
    assert.equal(d.ext.blockCheck.isBlocked('192.0.3.1'), undefined);
  });
});
