/** The per-request block lookup alone (blocks added directly; the store only backs refresh). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventBus } from '../../src/bus/create-event-bus.ts';
import { createBlockCheck, type BlockCheck } from '../../src/detect/block-check.ts';
import { addBlock, liftBlocks } from '../../src/detect/blocks.ts';
import { resolveClientAddress } from '../../src/gateway/http/client-address.ts';
import { createDetectRepo } from '../../src/store/repos/detect-repo.ts';
import type { BlockKind } from '../../src/detect/types.ts';
import { openStore, type Store } from '../../src/store/index.ts';

describe('block check', () => {
  let dir: string;
  let store: Store;
  let clock = 1_000_000;
  const fresh = (): BlockCheck => createBlockCheck({ store, now: () => clock });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-block-check-'));
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    await store.migrate();
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a blocked address and a blocked subject, and nothing else', () => {
    const check = fresh();
    check.add({ id: 'b1', kind: 'address', value: '192.0.2.1', expiresAt: clock + 1000 });
    check.add({ id: 'b2', kind: 'subject', value: 'mallory', expiresAt: clock + 1000 });
    assert.equal(check.isBlocked('192.0.2.1')?.id, 'b1');
    assert.equal(check.isBlocked('192.0.2.2', 'mallory')?.id, 'b2');
    assert.equal(check.isBlocked('192.0.2.2', 'alice'), undefined);
    assert.equal(check.isBlocked(undefined, undefined), undefined);
  });

  it('a subject named like a blocked address (or the reverse) is not blocked: kinds never mix', () => {
    const check = fresh();
    check.add({ id: 'b1', kind: 'address', value: '192.0.2.1', expiresAt: clock + 1000 });
    check.add({ id: 'b2', kind: 'subject', value: '198.51.100.7', expiresAt: clock + 1000 });
    assert.equal(check.isBlocked(undefined, '192.0.2.1'), undefined);
    assert.equal(check.isBlocked('198.51.100.7'), undefined);
  });

  it('an expired block no longer refuses; of overlapping blocks the longest wins; remove lifts one', () => {
    const check = fresh();
    check.add({ id: 'short', kind: 'address', value: '192.0.2.9', expiresAt: clock + 100 });
    check.add({ id: 'long', kind: 'address', value: '192.0.2.9', expiresAt: clock + 5000 });
    assert.equal(check.isBlocked('192.0.2.9')?.id, 'long');
    check.remove('long');
    assert.equal(check.isBlocked('192.0.2.9')?.id, 'short');
    clock += 100;
    assert.equal(check.isBlocked('192.0.2.9'), undefined);
    assert.equal(check.size, 1);
  });

  it('ignores a block of an unknown kind (e.g. __proto__ from a hostile or newer peer) instead of failing', () => {
    const check = fresh();
    assert.doesNotThrow(() => check.add({ id: 'x', kind: '__proto__' as BlockKind, value: 'v', expiresAt: clock + 1000 }));
    assert.equal(check.size, 0);
    assert.equal(check.isBlocked('v', 'v'), undefined);
  });

  it('a block announced while a refresh reads the store is not dropped when the refresh result is swapped in (attacker keeps going until the next refresh)', async () => {
    const check = fresh();
    // The refresh reads the store before the block is stored; the announcement arrives before its result.
    const refreshing = check.refresh();
    check.add({ id: 'during', kind: 'address', value: '192.0.2.77', expiresAt: clock + 60_000 });
    await refreshing;
    assert.equal(check.isBlocked('192.0.2.77')?.id, 'during');
  });

  it('a block lifted while a refresh reads the store does not come back with the refresh result', async () => {
    const check = fresh();
    const b = await addBlock(store, undefined, { kind: 'subject', value: 'lifted-during-refresh', reason: 'test', durationMs: 60_000, createdBy: 'test', now: clock });
    await check.refresh();
    assert.equal(check.isBlocked(undefined, 'lifted-during-refresh')?.id, b.id);
    // The refresh reads the block before it is lifted in the store; the lift is announced before the result.
    const refreshing = check.refresh();
    check.remove(b.id);
    await refreshing;
    assert.equal(check.isBlocked(undefined, 'lifted-during-refresh'), undefined);
  });
  it('a block-added announcement that arrives again after the lift (a retried NATS publish, delivered late or twice) does not bring the lifted block back', async () => {
    const bus = await createEventBus('memory:', { instanceId: 'bc' });
    // No refresh during the test: the store would otherwise correct the set within blockRefreshMs (up to 10 minutes).
    const check = createBlockCheck({ store, bus, refreshMs: 600_000 });
    try {
      await check.start();
      const b = await addBlock(store, bus, { kind: 'subject', value: 'lifted-then-announced', reason: 'test', durationMs: 60_000, createdBy: 'admin:ops' });
      await bus.flush();
      assert.equal(check.isBlocked(undefined, 'lifted-then-announced')?.id, b.id);
      assert.equal((await liftBlocks(store, bus, { id: b.id }, 'admin:ops')).length, 1);
      await bus.flush();
      assert.equal(check.isBlocked(undefined, 'lifted-then-announced'), undefined);
      bus.publish('detect.block.added', { blockId: b.id, kind: 'subject', value: b.value, reason: b.reason, createdBy: b.createdBy, expiresAt: new Date(b.expiresAt).toISOString() });
      await bus.flush();
      assert.equal(check.isBlocked(undefined, 'lifted-then-announced'), undefined, 'lifted stays lifted');
    } finally {
      check.stop();
      await bus.close();
    }
  });

  it('an address block typed in another spelling of the address (upper-case or uncompressed IPv6, IPv4-mapped) refuses the client, and unblock in yet another spelling lifts it', async () => {
    // What accept makes of the TCP peer, i.e. the string the block stage looks up.
    const client = (peer: string) => resolveClientAddress(peer, undefined, () => false).address;
    const check = fresh();
    const typed = ['2001:DB8:0:0:0:0:0:abcd', '::FFFF:198.51.100.23', '2001:db8:0000:7::1'];
    // Real time: liftBlocks lifts what is active now.
    for (const value of typed) await addBlock(store, undefined, { kind: 'address', value, reason: 'operator', durationMs: 60_000, createdBy: 'admin:ops' });
    await check.refresh();
    assert.ok(check.isBlocked(client('2001:db8::abcd')), 'upper-case, uncompressed IPv6 block');
    assert.ok(check.isBlocked(client('::ffff:198.51.100.23')), 'IPv4-mapped block, client on a dual-stack listener');
    assert.ok(check.isBlocked(client('198.51.100.23')), 'IPv4-mapped block, client on an IPv4 listener');
    assert.ok(check.isBlocked(client('2001:db8:0:7::1')));
    const lifted = await liftBlocks(store, undefined, { kind: 'address', value: '2001:db8::ABCD' }, 'admin:ops');
    assert.equal(lifted.length, 1);
    await check.refresh();
    assert.equal(check.isBlocked(client('2001:db8::abcd')), undefined);
  });

  it('an address block stored in a non-canonical spelling (by an older version) is still enforced', async () => {
    const check = fresh();
    await createDetectRepo(store.db).insertBlock({
      id: 'blk_legacy', kind: 'address', value: '2001:DB8::BEEF', reason: 'operator', alertId: null, createdBy: 'admin:ops',
      createdAt: clock, expiresAt: clock + 60_000, liftedAt: null, liftedBy: null,
    });
    await check.refresh();
    assert.equal(check.isBlocked('2001:db8::beef')?.id, 'blk_legacy');
  });
  it('a block on an IPv6 /64 refuses every address of that /64 (the attacker picks a new one per connection), and no other', async () => {
    const check = fresh();
    const b = await addBlock(store, undefined, { kind: 'address', value: '2001:DB8:5:6:ffff::1/64', reason: 'operator', durationMs: 60_000, createdBy: 'admin:ops' });
    assert.equal(b.value, '2001:db8:5:6::/64');
    await check.refresh();
    for (const a of ['2001:db8:5:6::1', '2001:db8:5:6:1234:5678:9abc:def0', '2001:db8:5:6::']) assert.equal(check.isBlocked(a)?.id, b.id, a);
    for (const a of ['2001:db8:5:7::1', '2001:db8::5:6:0:1', '192.0.2.1']) assert.equal(check.isBlocked(a), undefined, a);
    assert.equal((await liftBlocks(store, undefined, { kind: 'address', value: '2001:db8:5:6::/64' }, 'admin:ops')).length, 1);
    await check.refresh();
    assert.equal(check.isBlocked('2001:db8:5:6::1'), undefined);
  });

  it('a block on an IPv6 /48 refuses every /64 of it (a customer rotating through its /64s), and no address outside it', async () => {
    const check = fresh();
    const b = await addBlock(store, undefined, { kind: 'address', value: '2001:DB8:A0:FF00:0:0:0:7/48', reason: 'operator', durationMs: 60_000, createdBy: 'admin:ops' });
    assert.equal(b.value, '2001:db8:a0::/48', 'stored as its prefix, host bits dropped');
    await check.refresh();
    for (const a of ['2001:db8:a0::1', '2001:db8:a0:1::1', '2001:db8:a0:ffff:ffff:ffff:ffff:ffff', '2001:db8:a0:1234:5678::9']) assert.equal(check.isBlocked(a)?.id, b.id, a);
    // Next to it, IPv4, an IPv4 client behind NAT64 (each such address is another IPv4 client).
    for (const a of ['2001:db8:a1::1', '2001:db8:9f:ffff::1', '2001:db8::a0:0:0:1', '192.0.2.1', '64:ff9b::c000:201']) assert.equal(check.isBlocked(a), undefined, a);
    // Lifting a /64 inside it is refused, naming the /48 (it would stay blocked); the /48 itself, in any spelling, lifts it.
    await assert.rejects(liftBlocks(store, undefined, { kind: 'address', value: '2001:db8:a0:1::/64' }, 'admin:ops'), { code: 'ERR_DETECT_BLOCK_COVERED' });
    assert.equal((await liftBlocks(store, undefined, { kind: 'address', value: '2001:db8:a0:0:0:0:0:0/48' }, 'admin:ops')).length, 1);
    await check.refresh();
    assert.equal(check.isBlocked('2001:db8:a0:1::1'), undefined);
  });

  it('blocks on prefixes of several lengths each hold their own addresses; the most specific one is reported, and a lifted one stops refusing at once', () => {
    const check = fresh();
    check.add({ id: 'p48', kind: 'address', value: '2001:db8:b0::/48', expiresAt: clock + 1000 });
    check.add({ id: 'p56', kind: 'address', value: '2001:db8:c0:1200::/56', expiresAt: clock + 1000 });
    check.add({ id: 'p64', kind: 'address', value: '2001:db8:b0:7::/64', expiresAt: clock + 1000 });
    assert.equal(check.isBlocked('2001:db8:b0:7::1')?.id, 'p64');
    assert.equal(check.isBlocked('2001:db8:b0:8::1')?.id, 'p48');
    assert.equal(check.isBlocked('2001:db8:c0:12ff::1')?.id, 'p56');
    assert.equal(check.isBlocked('2001:db8:c0:1300::1'), undefined);
    check.remove('p48');
    assert.equal(check.isBlocked('2001:db8:b0:8::1'), undefined);
    assert.equal(check.isBlocked('2001:db8:b0:7::1')?.id, 'p64');
    assert.equal(check.size, 2);
  });

  it('an IPv4 /24 block refuses every client inside it and none next to it; IPv6 and NAT64 clients are untouched; a /32 is the address itself', async () => {
    const check = fresh();
    const b = await addBlock(store, undefined, { kind: 'address', value: '198.51.100.77/24', reason: 'operator', durationMs: 60_000, createdBy: 'admin:ops' });
    assert.equal(b.value, '198.51.100.0/24', 'stored as its prefix, host bits dropped');
    const single = await addBlock(store, undefined, { kind: 'address', value: '203.0.113.9/32', reason: 'operator', durationMs: 60_000, createdBy: 'admin:ops' });
    assert.equal(single.value, '203.0.113.9', 'a /32 is stored as the address');
    await check.refresh();
    for (const a of ['198.51.100.0', '198.51.100.1', '198.51.100.77', '198.51.100.255']) assert.equal(check.isBlocked(a)?.id, b.id, a);
    assert.equal(check.isBlocked('203.0.113.9')?.id, single.id);
    for (const a of ['198.51.101.0', '198.51.99.255', '203.0.113.10', '2001:db8::c633:644d', '64:ff9b::c633:644d', '::1']) assert.equal(check.isBlocked(a), undefined, a);
    await liftBlocks(store, undefined, { kind: 'address', value: '198.51.100.0/24' }, 'admin:ops');
    await liftBlocks(store, undefined, { kind: 'address', value: '203.0.113.9' }, 'admin:ops');
    await check.refresh();
    assert.equal(check.isBlocked('198.51.100.77'), undefined);
  });

  it('IPv4 blocks of several lengths (/8, /16, /24, an address) each hold their own clients; the most specific is reported, and IPv6 prefix blocks never hold an IPv4 client', () => {
    const check = fresh();
    check.add({ id: 'v8', kind: 'address', value: '10.0.0.0/8', expiresAt: clock + 1000 });
    check.add({ id: 'v16', kind: 'address', value: '10.20.0.0/16', expiresAt: clock + 1000 });
    check.add({ id: 'v24', kind: 'address', value: '10.20.30.0/24', expiresAt: clock + 1000 });
    check.add({ id: 'one', kind: 'address', value: '10.20.30.40', expiresAt: clock + 1000 });
    check.add({ id: 'v6', kind: 'address', value: '2001:db8::/32', expiresAt: clock + 1000 });
    assert.equal(check.isBlocked('10.20.30.40')?.id, 'one');
    assert.equal(check.isBlocked('10.20.30.41')?.id, 'v24');
    assert.equal(check.isBlocked('10.20.31.1')?.id, 'v16');
    assert.equal(check.isBlocked('10.21.0.1')?.id, 'v8');
    assert.equal(check.isBlocked('11.0.0.1'), undefined);
    assert.equal(check.isBlocked('9.255.255.255'), undefined);
    check.remove('v8');
    assert.equal(check.isBlocked('10.21.0.1'), undefined);
    assert.equal(check.isBlocked('10.20.31.1')?.id, 'v16');
    assert.equal(check.size, 4);
  });

  it('an address block on anything but an address, an IPv6 prefix from /32 to /64 or an IPv4 prefix from /8 to /32 is refused', async () => {
    for (const value of ['10.0.0.0/7', '0.0.0.0/0', '10.0.0.0/33', '10.0.0.0/08', '10.0.0/8', '::ffff:192.0.2.0/120', '::ffff:192.0.2.0/24', '2001:db8::/16', '2001:db8::/31', '2001:db8::/65', '2001:db8::/048', '2001:db8::/', '::ffff:192.0.2.1/48', '2001:db8::1/128', 'fe80::1%eth0/64', 'example.com']) {
      await assert.rejects(addBlock(store, undefined, { kind: 'address', value, reason: 'x', durationMs: 60_000, createdBy: 'admin:ops' }), { code: 'ERR_DETECT_BLOCK_INVALID' }, value);
    }
  });
});
