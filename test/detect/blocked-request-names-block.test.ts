/**
 * "Why was this request refused?" An operator looking at a 403 ERR_SHIELD_BLOCKED in the audit
 * log must be able to tell which block refused it (and lift exactly that one with
 * `alerts unblock --id`). The block stage hands the block id over with the error, and the
 * stage's own comment promised it in the access record, but the record had only the code.
 * Real composed gateway (detection, audit) on SQLite; the block is placed as `alerts block` does.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { queryAudit } from '../../src/audit/query.ts';
import { addBlock } from '../../src/detect/blocks.ts';
import type { DetectExtension } from '../../src/detect/extension.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import type { Store } from '../../src/store/types.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

describe('a request refused by a block', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;
  let store: Store;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({
      ratelimit: { edge: { enabled: false } },
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }],
    }, { compose: true });
    store = await openStoreFromConfig(gw.gateway.config);
  });

  after(async () => {
    await store?.close();
    await gw?.close();
    await upstream?.close();
  });

  it('a blocked client address is refused with 403 and its audit record names the block that refused it', async () => {
    const block = await addBlock(store, undefined, { kind: 'address', value: '127.0.0.1', reason: 'credential_stuffing', durationMs: 60_000, createdBy: 'admin:test' });
    (gw.gateway.extensions.find((e) => e.name === 'detect') as DetectExtension).blockCheck.add(block);
    const res = await gw.fetch('/app/x');
    assert.equal(res.status, 403);
    assert.match(res.body, /ERR_SHIELD_BLOCKED/);
    assert.ok(!res.body.includes(block.id), 'nothing about the block on the wire');
    const requestId = JSON.parse(res.body).error.requestId as string;
    let record: { details: string } | undefined;
    for (const deadline = Date.now() + 10_000; !record && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      for await (const r of queryAudit(store, { requestId })) record = r;
    }
    assert.ok(record, 'the refused request was recorded');
    const details = JSON.parse(record.details) as Record<string, unknown>;
    assert.equal(details.errorCode, 'ERR_SHIELD_BLOCKED');
    assert.equal(details.blockId, block.id);
  });
});
