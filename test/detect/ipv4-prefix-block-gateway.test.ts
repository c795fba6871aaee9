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
import { queryAudit } from '../../src/audit/query.ts';
import { addBlock, liftBlocks } from '../../src/detect/blocks.ts';
import type { DetectExtension } from '../../src/detect/extension.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import type { Store } from '../../src/store/types.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

describe('a block on an IPv4 prefix at the gateway', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;
  let store: Store;
  let detect: DetectExtension;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({
      ratelimit: { edge: { enabled: false } },
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }],
    }, { compose: true });
    store = await openStoreFromConfig(gw.gateway.config);
    detect = gw.gateway.extensions.find((e) => e.name === 'detect') as DetectExtension;
  });

  after(async () => {
    await store?.close();
    await gw?.close();
    await upstream?.close();
  });

  it('a client inside a blocked 127.0.0.0/8 is refused with 403 ERR_SHIELD_BLOCKED naming the /8 block in its audit record; a block on another /8 does not refuse it; lifting the /8 lets it through', async () => {
    const other = await addBlock(store, undefined, { kind: 'address', value: '10.0.0.0/8', reason: 'operator', durationMs: 60_000, createdBy: 'admin:test' });
    detect.blockCheck.add(other);
    assert.equal((await gw.fetch('/app/x')).status, 200, 'a block on 10.0.0.0/8 does not hold a 127.0.0.1 client');

    const block = await addBlock(store, undefined, { kind: 'address', value: '127.1.2.3/8', reason: 'operator', durationMs: 60_000, createdBy: 'admin:test' });
    assert.equal(block.value, '127.0.0.0/8');
    detect.blockCheck.add(block);
    const res = await gw.fetch('/app/x');
    assert.equal(res.status, 403);
    assert.match(res.body, /ERR_SHIELD_BLOCKED/);
    const requestId = JSON.parse(res.body).error.requestId as string;
    let record: { details: string } | undefined;
    for (const deadline = Date.now() + 10_000; !record && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      for await (const r of queryAudit(store, { requestId })) record = r;
    }
    assert.ok(record, 'the refused request was recorded');
    assert.equal((JSON.parse(record.details) as Record<string, unknown>).blockId, block.id);

    const lifted = await liftBlocks(store, undefined, { kind: 'address', value: '127.0.0.0/8' }, 'admin:test');
    assert.deepEqual(lifted.map((b) => b.id), [block.id]);
    await detect.blockCheck.refresh();
    assert.equal((await gw.fetch('/app/x')).status, 200, 'let through once the /8 is lifted');
  });
});
