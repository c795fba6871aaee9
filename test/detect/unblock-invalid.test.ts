/**
 * `gatehouse alerts unblock --address`: an address no block can be on (a typo, an IPv6 prefix
 * shorter than /32 or longer than /64, an IPv4 prefix shorter than /8) is refused with ERR_DETECT_BLOCK_INVALID, as `block` refuses it. Answered with
 * "no active block matched" and exit 0, it told the operator the client was not blocked while
 * its block stayed in force. A subject is blocked and lifted under the key the block stage looks
 * it up by. Real SQLite store and in-process bus.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventBus } from '../../src/bus/create-event-bus.ts';
import type { EventBus } from '../../src/bus/types.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import type { AdminContext } from '../../src/detect/commands/admin-audit.ts';
import { isGatehouseError } from '../../src/core/errors.ts';
import { blockAddCommand, blockLiftCommand, blockListCommand } from '../../src/detect/commands/alerts.ts';
import { subjectKey } from '../../src/detect/subject-key.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';

describe('alerts unblock with an invalid address', () => {
  let dir: string;
  let store: Store;
  let bus: EventBus;
  let ctx: AdminContext;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-detect-unblock-'));
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    await store.migrate();
    bus = await createEventBus('memory:', { instanceId: 'unblock-0' });
    ctx = { config: parseConfig({ dataDir: dir }).config, store, bus };
  });

  after(async () => {
    await bus.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const invalid = (err: unknown) => isGatehouseError(err) && err.code === 'ERR_DETECT_BLOCK_INVALID';

  it('unblock of a /16 or /128 typed for a blocked /64 fails with ERR_DETECT_BLOCK_INVALID and the /64 stays blocked', async () => {
    await blockAddCommand(ctx, { kind: 'address', value: '2001:db8:1:2::/64', durationMs: 600_000, reason: 'test', by: 'ops' });
    await assert.rejects(blockLiftCommand(ctx, { kind: 'address', value: '2001:db8:1:2::/16' }, 'ops'), invalid);
    await assert.rejects(blockLiftCommand(ctx, { kind: 'address', value: '2001:db8:1:2::/128' }, 'ops'), invalid);
    await assert.rejects(blockLiftCommand(ctx, { kind: 'address', value: '203.0.113.300' }, 'ops'), invalid);
    // A /48 that does not hold the /64 lifts nothing (one that holds it lifts it: unblock-prefix.test.ts).
    assert.deepEqual(await blockLiftCommand(ctx, { kind: 'address', value: '2001:db8:2:2::/48' }, 'ops'), []);
    assert.deepEqual((await blockListCommand(store, { all: false })).map((b) => b.value), ['2001:db8:1:2::/64']);
    // Any spelling of the /64 lifts it.
    assert.equal((await blockLiftCommand(ctx, { kind: 'address', value: '2001:DB8:1:2:0:0:0:0/64' }, 'ops')).length, 1);
  });

  it('unblock of an empty subject fails with ERR_DETECT_BLOCK_INVALID', async () => {
    await assert.rejects(blockLiftCommand(ctx, { kind: 'subject', value: '' }, 'ops'), invalid);
  });

  it('an admin can block and unblock a principal whose id is longer than 512 characters (another issuer\'s long sub): stored under the key the block stage looks up', async () => {
    const long = `https://idp.example.com#${'s'.repeat(600)}`;
    const b = await blockAddCommand(ctx, { kind: 'subject', value: long, durationMs: 600_000, reason: 'test', by: 'ops' });
    assert.equal(b.value, subjectKey(long));
    assert.equal((await blockLiftCommand(ctx, { kind: 'subject', value: long }, 'ops')).length, 1);
  });
});
