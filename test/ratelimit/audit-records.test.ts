/**
 * What one 429 leaves in the audit log, through a real composed Gatehouse (IdP, audit writer
 * on SQLite, detection): the `ratelimit.exceeded` security event (which limit, its burst,
 * Retry-After) and the `gateway.request` access event (status, path, duration). Two records
 * of two different events, by design; they must name the same request, and detection must
 * not count one refusal twice (or at all as a policy denial: a paced client is not an attacker
 * guessing credentials).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { queryAudit, viewRecord, type AuditRecordView } from '../../src/audit/query.ts';
import type { AuditExtension } from '../../src/audit/extension.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import type { Store } from '../../src/store/types.ts';
import { serviceToken } from '../support/service-token.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

describe('audit records of a rate-limited request', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;
  let store: Store;
  let token: string;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({
      ratelimit: { edge: { enabled: false }, identity: { rate: 1, periodMs: 60_000, burst: 2 } },
      audit: { fsync: false },
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'authenticated', authentication: { methods: ['jwt'] } }],
      // Three denials in a minute would be a burst: more 429s than that must not make one.
      detect: { denialBurst: { threshold: 3, windowMs: 60_000, actions: ['alert'] } },
    }, { compose: true });
    store = await openStoreFromConfig(gw.gateway.config);
    token = await serviceToken(gw, 'svc-paced');
  });

  after(async () => {
    await store?.close();
    await gw?.close();
    await upstream?.close();
  });

  async function records(filter: { requestId?: string; event?: string }): Promise<AuditRecordView[]> {
    await new Promise((r) => setTimeout(r, 100));
    const audit = gw.gateway.extensions.find((e) => e.name === 'audit') as AuditExtension;
    await audit.writer!.flush();
    const out: AuditRecordView[] = [];
    for await (const r of queryAudit(store, filter)) out.push(viewRecord(r));
    return out;
  }

  it('a refused request is one ratelimit.exceeded and one gateway.request record under the same request id, and repeated 429s raise no denial alert', async () => {
    const call = () => gw.fetch('/app/x', { headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < 2; i++) assert.equal((await call()).status, 200);
    const refusedIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await call();
      assert.equal(res.status, 429);
      refusedIds.push(String(res.headers['x-request-id']));
    }
    for (const requestId of refusedIds) {
      const found = await records({ requestId });
      assert.deepEqual(found.map((r) => r.event).sort(), ['gateway.request', 'ratelimit.exceeded'], `records of ${requestId}`);
      for (const r of found) {
        assert.equal(r.outcome, 'denied');
        assert.equal(r.actor.subject, 'svc-paced');
      }
    }
    assert.equal((await records({ event: 'ratelimit.exceeded' })).length, refusedIds.length, 'no refusal is recorded twice, and no event lacks its request id');
    assert.deepEqual(await records({ event: 'detect.alert' }), [], 'five 429s count as no denials (threshold 3)');
  });
});
