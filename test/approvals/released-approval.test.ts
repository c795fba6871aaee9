/**
 * An approval spent by a request that never reached the upstream is given back: a request that
 * used its approval and was then refused by a later stage before anything was sent upstream (the
 * per-identity rate limit's 429, the forward stage without a pool) leaves the approval approved,
 * with the same use window, for a retry of the same request. Once the request was handed to the
 * upstream, the approval stays used whatever the upstream did (500, a connection closed before or
 * during the answer): an approved operation never runs twice. Real composed gateway, real upstream.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { UpstreamPool } from '../../src/gateway/upstream/pools.ts';
import { errorOf, startApprovalsGateway, type ApprovalsGateway } from './support/approvals-gateway.ts';
import { requester, type Reply } from './support/requester.ts';


/** The limited route's bucket: one request per PERIOD_MS, so a refill takes that long. */
const PERIOD_MS = 2000;

describe('an approval spent by a request that never reached the upstream', () => {
  let t: ApprovalsGateway;

  before(async () => {
    t = await startApprovalsGateway((url) => ({
      routes: [
        { id: 'limited', path: '/limited', upstream: 'app', access: 'authenticated', approval: { approverRoles: ['approver'] } },
        { id: 'payments', path: '/payments', upstream: 'app', access: 'authenticated', approval: { approverRoles: ['approver'] } },
        { id: 'spare', path: '/spare', upstream: 'spare', access: 'authenticated', approval: { approverRoles: ['approver'] } },
      ],
      upstreams: { spare: { url } },
      ratelimit: { identity: { enabled: true, rate: 1000, periodMs: 1000, burst: 1000, routes: { limited: { rate: 1, periodMs: PERIOD_MS, burst: 1 } } } },
    }), [['alice', ['ops']], ['bob', ['approver']]], (req, res) => {
      if (req.url === '/payments/answers-500') { res.writeHead(500, { 'content-type': 'text/plain' }).end('ledger down'); return; }
      // The request arrived; the upstream hangs up without a word.
      if (req.url === '/payments/hangs-up') { req.socket.destroy(); return; }
      // The answer starts and is cut off midway.
      if (req.url === '/payments/cut-off') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{"transfer":');
        setTimeout(() => req.socket.destroy(), 20);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  after(() => t?.close());

  const { call, use, approved, audited } = requester(() => t, { requester: 'alice', approver: 'bob' });
  const row = (id: string) => t.store.db.selectFrom('approvals').select(['status', 'use_by', 'used_at', 'used_request_id']).where('id', '=', id).executeTakeFirstOrThrow();
  /** Empties alice's bucket on the limited route with requests no approval covers (GET). */
  async function exhaust(): Promise<void> {
    for (let i = 0; i < 5; i++) if ((await call('GET', '/limited/list')).status === 429) return;
    assert.fail('the limited route never refused');
  }

  it('an approved request refused with 429 by the rate limit keeps its approval, and the retry after the limit resets reaches the upstream exactly once', async () => {
    const body = '{"amount":100}';
    const id = await approved('/limited/transfer', body);
    const before = await row(id);
    await exhaust();
    const n = t.upstream.received.length;

    const limited = await use('/limited/transfer', body, id);
    assert.equal(limited.status, 429, limited.body);
    assert.equal(errorOf(limited).code, 'ERR_RATELIMIT_EXCEEDED');
    assert.equal(t.upstream.received.length, n);
    // Given back before the 429 was answered: same use window, no trace of the refused use.
    const released = await row(id);
    assert.equal(released.status, 'approved');
    assert.equal(released.used_at, null);
    assert.equal(released.used_request_id, null);
    assert.equal(Number(released.use_by), Number(before.use_by));
    // The use erased the held body; the give-back keeps it again for the approvers.
    const restored = await t.store.db.selectFrom('approvals').select(['body', 'body_erased_at']).where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(Buffer.from(restored.body!, 'base64url').toString(), body);
    assert.equal(restored.body_erased_at, null);
    const events = await audited('approval.released', id, 1);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.code, 'ERR_RATELIMIT_EXCEEDED');
    assert.equal(events[0]!.stage, 'rateLimit');
    assert.equal(events[0]!.requestId, limited.headers['x-request-id']);
    assert.equal(events[0]!.path, '/limited/transfer');

    // Retried until the bucket refills (each early retry is refused and gives it back again).
    let ok: Reply | undefined;
    for (const deadline = Date.now() + 4 * PERIOD_MS; ok === undefined && Date.now() < deadline;) {
      const r = await use('/limited/transfer', body, id);
      if (r.status === 429) { await sleep(PERIOD_MS / 4); continue; }
      ok = r;
    }
    assert.equal(ok?.status, 200, ok?.body);
    assert.equal(t.upstream.received.length, n + 1);
    assert.equal(t.upstream.received.at(-1)!.body, body);
    assert.equal((await row(id)).status, 'used');
    assert.equal((await row(id)).used_request_id, ok!.headers['x-request-id']);

    await sleep(PERIOD_MS);
    const replay = await use('/limited/transfer', body, id);
    assert.equal(errorOf(replay).code, 'ERR_APPROVAL_USED');
    assert.equal(t.upstream.received.length, n + 1);
  });

  it('racing requests with one approval against a rate limit: none passes while the bucket is empty, then exactly one reaches the upstream', async () => {
    const body = '{"amount":7}';
    const id = await approved('/limited/race', body);
    await exhaust();
    const n = t.upstream.received.length;
    const first = await Promise.all(Array.from({ length: 8 }, () => use('/limited/race', body, id)));
    for (const r of first) assert.ok(['ERR_RATELIMIT_EXCEEDED', 'ERR_APPROVAL_USED'].includes(errorOf(r).code), r.body);
    assert.equal(t.upstream.received.length, n);
    assert.equal((await row(id)).status, 'approved');

    await sleep(PERIOD_MS + 200);
    const second = await Promise.all(Array.from({ length: 8 }, () => use('/limited/race', body, id)));
    assert.equal(second.filter((r) => r.status === 200).length, 1, second.map((r) => r.body).join('\n'));
    for (const r of second.filter((x) => x.status !== 200)) assert.equal(errorOf(r).code, 'ERR_APPROVAL_USED', r.body);
    assert.equal(t.upstream.received.length, n + 1);
    assert.equal((await row(id)).status, 'used');
  });

  it('an approved request the forward stage refuses before dispatch (no pool for its upstream) keeps its approval', async () => {
    const body = '{"amount":3}';
    const id = await approved('/spare/transfer', body);
    const pools = t.gw.gateway.generation.upstreams as Map<string, UpstreamPool>;
    const spare = pools.get('spare')!;
    pools.delete('spare');
    const n = t.upstream.received.length;
    try {
      const r = await use('/spare/transfer', body, id);
      assert.equal(errorOf(r).code, 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE', r.body);
    } finally {
      pools.set('spare', spare);
    }
    assert.equal(t.upstream.received.length, n);
    assert.equal((await row(id)).status, 'approved');
    const events = await audited('approval.released', id, 1);
    assert.equal(events[0]?.stage, 'forward');
    const r = await use('/spare/transfer', body, id);
    assert.equal(r.status, 200, r.body);
    assert.equal(t.upstream.received.length, n + 1);
  });

  for (const [path, what] of [['/payments/answers-500', 'the upstream answered 500'], ['/payments/hangs-up', 'the upstream closed the connection before answering (502)'], ['/payments/cut-off', 'the upstream closed the connection mid-response']] as const) {
    it(`an approval whose request reached the upstream stays used when ${what}: a replay is refused with ERR_APPROVAL_USED`, async () => {
      const body = '{"amount":5}';
      const id = await approved(path, body);
      const n = t.upstream.received.length;
      const r = await use(path, body, id).catch((err: unknown) => err);
      if (path === '/payments/answers-500') assert.equal((r as Reply).status, 500);
      else if (path === '/payments/hangs-up') assert.equal((r as Reply).status, 502, JSON.stringify(r));
      else assert.ok(r instanceof Error, 'a cut-off answer does not read as complete');
      assert.equal(t.upstream.received.length, n + 1);
      assert.equal((await row(id)).status, 'used');
      const replay = await use(path, body, id);
      assert.equal(errorOf(replay).code, 'ERR_APPROVAL_USED');
      assert.equal(t.upstream.received.length, n + 1);
      // The replay's refusal is audited after anything the first request's answer could have published.
      assert.equal((await audited('approval.refused', id, 1)).length, 1);
      assert.deepEqual(await audited('approval.released', id, 0), []);
    });
  }
});
