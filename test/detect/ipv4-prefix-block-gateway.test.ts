/**
 * A block on an IPv4 network, enforced by the gateway: an operator who blocks a hosting
 * network's /24 (or a whole /8) must see every client inside it refused, not only the address
 * the attack came from first. Before, an IPv4 prefix could not be blocked at all (the CLI
 * refused it), so a client that hopped addresses inside its provider's network had to be
 * blocked one address at a time. Real composed gateway (detection, audit) on SQLite, real
 * sockets from 127.0.0.1; the block is placed and lifted as `alerts block`/`unblock` do.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addBlock, liftBlocks } from '../../src/detect/blocks.ts';
import type { DetectExtension } from '../../src/detect/extension.ts';
import { startAuditedGateway, type AuditedGateway } from '../support/audited-gateway.ts';

describe('a block on an IPv4 prefix at the gateway', () => {
  let g: AuditedGateway;
  let detect: DetectExtension;

  before(async () => {
    g = await startAuditedGateway({ ratelimit: { edge: { enabled: false } } });
    detect = g.gw.gateway.extensions.find((e) => e.name === 'detect') as DetectExtension;
  });
  after(async () => { await g?.close(); });

  it('a client inside a blocked 127.0.0.0/8 is refused with 403 ERR_SHIELD_BLOCKED naming the /8 block in its audit record; a block on another /8 does not refuse it; lifting the /8 lets it through', async () => {
    const other = await addBlock(g.store, undefined, { kind: 'address', value: '10.0.0.0/8', reason: 'operator', durationMs: 60_000, createdBy: 'admin:test' });
    detect.blockCheck.add(other);
    assert.equal((await g.gw.fetch('/app/x')).status, 200, 'a block on 10.0.0.0/8 does not hold a 127.0.0.1 client');

    const block = await addBlock(g.store, undefined, { kind: 'address', value: '127.1.2.3/8', reason: 'operator', durationMs: 60_000, createdBy: 'admin:test' });
    assert.equal(block.value, '127.0.0.0/8');
    detect.blockCheck.add(block);
    const res = await g.gw.fetch('/app/x');
    assert.equal(res.status, 403);
    assert.match(res.body, /ERR_SHIELD_BLOCKED/);
    const [record] = await g.recordsOf(JSON.parse(res.body).error.requestId as string);
    assert.ok(record, 'the refused request was recorded');
    assert.equal((record.details as Record<string, unknown>).blockId, block.id);

    const lifted = await liftBlocks(g.store, undefined, { kind: 'address', value: '127.0.0.0/8' }, 'admin:test');
    assert.deepEqual(lifted.map((b) => b.id), [block.id]);
    await detect.blockCheck.refresh();
    assert.equal((await g.gw.fetch('/app/x')).status, 200, 'let through once the /8 is lifted');
  });
});
