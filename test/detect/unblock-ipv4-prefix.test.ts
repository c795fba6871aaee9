/**
 * `gatehouse alerts block/unblock --address` with IPv4 prefixes, through the commands the CLI
 * runs (in-process: the CLI's output and exit codes for prefixes are covered by
 * unblock-prefix.test.ts), on a real SQLite store and the in-process bus. Before, an IPv4
 * prefix was refused (ERR_DETECT_BLOCK_INVALID): a network had to be blocked, and freed,
 * one address at a time.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventBus } from '../../src/bus/create-event-bus.ts';
import type { EventBus } from '../../src/bus/types.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import { isGatehouseError } from '../../src/core/errors.ts';
import type { AdminContext } from '../../src/detect/commands/admin-audit.ts';
import { blockAddCommand, blockLiftCommand, blockListCommand } from '../../src/detect/commands/alerts.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';

describe('alerts block and unblock of an IPv4 prefix', () => {
  let dir: string;
  let store: Store;
  let bus: EventBus;
  let ctx: AdminContext;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-detect-unblock-v4-'));
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    await store.migrate();
    bus = await createEventBus('memory:', { instanceId: 'unblock-v4-0' });
    ctx = { config: parseConfig({ dataDir: dir }).config, store, bus };
  });
  after(async () => {
    await bus.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const block = (value: string) => blockAddCommand(ctx, { kind: 'address', value, durationMs: 600_000, reason: 'test', by: 'carol' });
  const activeIds = async () => (await blockListCommand(store, { all: false })).map((b) => b.id);
  const code = (expected: string) => (err: unknown) => isGatehouseError(err) && err.code === expected;

  it('block --address 198.51.100.77/24 stores 198.51.100.0/24; a /7 or an IPv4-mapped IPv6 prefix is refused with ERR_DETECT_BLOCK_INVALID', async () => {
    const b = await block('198.51.100.77/24');
    assert.equal(b.value, '198.51.100.0/24');
    await assert.rejects(block('10.0.0.0/7'), code('ERR_DETECT_BLOCK_INVALID'));
    await assert.rejects(block('::ffff:198.51.100.0/120'), code('ERR_DETECT_BLOCK_INVALID'));
    assert.equal((await blockLiftCommand(ctx, { id: b.id }, 'dave')).length, 1);
  });

  it('unblock of a /16 lifts the /24s and addresses blocked inside it, and leaves a block outside it', async () => {
    const inside = [(await block('203.0.113.0/24')).id, (await block('203.0.7.9')).id];
    const outside = (await block('203.1.113.0/24')).id;
    const lifted = await blockLiftCommand(ctx, { kind: 'address', value: '203.0.0.0/16' }, 'dave');
    assert.deepEqual(lifted.map((b) => b.value).sort(), ['203.0.113.0/24', '203.0.7.9']);
    const ids = await activeIds();
    assert.ok(ids.includes(outside) && !inside.some((id) => ids.includes(id)), JSON.stringify(ids));
    await blockLiftCommand(ctx, { id: outside }, 'dave');
  });

  it('unblock of an address inside an active /24 is refused with ERR_DETECT_BLOCK_COVERED naming the /24, and lifts nothing', async () => {
    const wide = await block('192.0.2.0/24');
    const own = await block('192.0.2.9');
    await assert.rejects(blockLiftCommand(ctx, { kind: 'address', value: '192.0.2.9' }, 'dave'),
      (err: unknown) => code('ERR_DETECT_BLOCK_COVERED')(err) && String((err as { publicMessage?: string }).publicMessage).includes(`192.0.2.0/24 (${wide.id}`));
    const ids = await activeIds();
    assert.ok(ids.includes(wide.id) && ids.includes(own.id), JSON.stringify(ids));
  });
});
