/**
 * An approval binds what the body's bytes mean, not only the bytes: the request that uses it
 * must carry the same Content-Type and Content-Encoding (trimmed, compared exactly; absent
 * stays absent). Through a real composed gateway over TLS in front of a real upstream.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { queryAudit } from '../../src/audit/query.ts';
import { insecureAgent } from '../support/gateway.ts';
import { errorOf, startApprovalsGateway, type ApprovalsGateway } from './support/approvals-gateway.ts';

type Reply = { status: number; body: string };

describe('approvals bind Content-Type and Content-Encoding', () => {
  let t: ApprovalsGateway;

  before(async () => {
    t = await startApprovalsGateway(() => ({
      routes: [{ id: 'payments', path: '/payments', upstream: 'app', access: 'authenticated', approval: { approverRoles: ['approver'] } }],
    }), [['alice', ['ops']], ['bob', ['approver']]]);
  });
  after(() => t?.close());

  /** alice's POST with exactly these header fields (a flat list, so a field can be sent twice). */
  async function send(path: string, body: string | Buffer, fields: string[], approvalId?: string): Promise<Reply> {
    const res = await request(`${t.gw.url}${path}`, {
      method: 'POST', dispatcher: insecureAgent, body,
      headers: ['authorization', `Bearer ${t.tokens.alice}`, ...fields, ...(approvalId ? ['gatehouse-approval', approvalId] : [])],
    });
    return { status: res.statusCode, body: await res.body.text() };
  }

  /** Held by alice, approved by bob; returns the id. */
  async function approved(path: string, body: string | Buffer, fields: string[]): Promise<string> {
    const held = await send(path, body, fields);
    assert.equal(errorOf(held).code, 'ERR_APPROVAL_PENDING', held.body);
    const id = errorOf(held).approvalId!;
    const r = await t.gw.fetch(`/_gatehouse/approvals/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${t.tokens.bob}` } });
    assert.equal(r.status, 200, r.body);
    return id;
  }

  /** Every attempt is refused with ERR_APPROVAL_MISMATCH and none reaches the upstream. */
  async function refusedAll(attempts: (() => Promise<Reply>)[]): Promise<void> {
    const n = t.upstream.received.length;
    for (const [i, attempt] of attempts.entries()) {
      const r = await attempt();
      assert.equal(r.status, 403, `attempt ${i}: ${r.body}`);
      assert.equal(errorOf(r).code, 'ERR_APPROVAL_MISMATCH', `attempt ${i}`);
    }
    assert.equal(t.upstream.received.length, n, 'nothing forwarded');
  }

  it('an approved request replayed with another Content-Type (multipart boundary) is refused and not forwarded; the approved one still runs once', async () => {
    // One body, two meanings: under boundary AAA the amount is 100 (the BBB part is epilogue),
    // under boundary BBB it is 1000000 (the AAA part is preamble).
    const body = '--AAA\r\nContent-Disposition: form-data; name="amount"\r\n\r\n100\r\n--AAA--\r\n'
      + '--BBB\r\nContent-Disposition: form-data; name="amount"\r\n\r\n1000000\r\n--BBB--\r\n';
    const id = await approved('/payments/multipart', body, ['content-type', 'multipart/form-data; boundary=AAA']);
    await refusedAll([() => send('/payments/multipart', body, ['content-type', 'multipart/form-data; boundary=BBB'], id)]);
    const n = t.upstream.received.length;
    const ok = await send('/payments/multipart', body, ['content-type', 'multipart/form-data; boundary=AAA'], id);
    assert.equal(ok.status, 200, ok.body);
    assert.equal(t.upstream.received.length, n + 1);
    assert.equal(t.upstream.received.at(-1)!.headers['content-type'], 'multipart/form-data; boundary=AAA');

    // The refusal is audited with what was sent.
    let refused: Record<string, unknown> | undefined;
    for (const deadline = Date.now() + 10_000; refused === undefined && Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      for await (const r of queryAudit(t.store, { event: 'approval.refused' })) {
        const details = (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as Record<string, unknown>;
        if (details.approvalId === id) refused = details;
      }
    }
    assert.equal(refused?.code, 'ERR_APPROVAL_MISMATCH');
    assert.equal(refused?.contentType, 'multipart/form-data; boundary=BBB');
  });

  it('an approved request replayed with Content-Encoding: gzip added is refused and not forwarded', async () => {
    const body = '{"amount":100}';
    const id = await approved('/payments/encoding', body, ['content-type', 'application/json']);
    await refusedAll([
      () => send('/payments/encoding', body, ['content-type', 'application/json', 'content-encoding', 'gzip'], id),
      () => send('/payments/encoding', body, ['content-type', 'application/json', 'content-encoding', 'identity'], id),
    ]);
    assert.equal((await send('/payments/encoding', body, ['content-type', 'application/json'], id)).status, 200);
  });

  it('an approval of a gzip-encoded body is refused for the same bytes sent without Content-Encoding or with another one', async () => {
    const body = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0xff, 0xff]);
    const fields = ['content-type', 'application/json', 'content-encoding', 'gzip'];
    const id = await approved('/payments/gzip', body, fields);
    await refusedAll([
      () => send('/payments/gzip', body, ['content-type', 'application/json'], id),
      () => send('/payments/gzip', body, ['content-type', 'application/json', 'content-encoding', 'br'], id),
      () => send('/payments/gzip', body, [...fields, 'content-encoding', 'gzip'], id),
    ]);
    assert.equal((await send('/payments/gzip', body, fields, id)).status, 200);
  });

  it('an approved request replayed with its Content-Type dropped, another charset, or a second Content-Type field is refused and not forwarded', async () => {
    const body = '{"amount":100}';
    const type = 'application/json; charset=utf-8';
    const id = await approved('/payments/charset', body, ['content-type', type]);
    await refusedAll([
      () => send('/payments/charset', body, [], id),
      () => send('/payments/charset', body, ['content-type', 'application/json; charset=utf-16'], id),
      () => send('/payments/charset', body, ['content-type', 'application/json'], id),
      // Node keeps the first of two Content-Type fields; the upstream gets both and may read the second.
      () => send('/payments/charset', body, ['content-type', type, 'content-type', 'text/plain'], id),
    ]);
    assert.equal((await send('/payments/charset', body, ['content-type', type], id)).status, 200);
  });

  it('an approval of a request without Content-Type is refused for the same request with one added', async () => {
    const body = '{"amount":100}';
    const id = await approved('/payments/bare', body, []);
    await refusedAll([
      () => send('/payments/bare', body, ['content-type', 'application/json'], id),
      () => send('/payments/bare', body, ['content-encoding', 'gzip'], id),
    ]);
    assert.equal((await send('/payments/bare', body, [], id)).status, 200);
  });

  it('the approver is shown the bound Content-Type and Content-Encoding (null when absent)', async () => {
    const held = await send('/payments/shown', '{"amount":1}', ['content-type', 'application/json', 'content-encoding', 'identity']);
    const view = await t.gw.fetch(`/_gatehouse/approvals/${errorOf(held).approvalId!}`, { headers: { authorization: `Bearer ${t.tokens.bob}` } });
    const v = JSON.parse(view.body) as { request: { contentType: string | null; contentEncoding: string | null } };
    assert.equal(v.request.contentType, 'application/json');
    assert.equal(v.request.contentEncoding, 'identity');
    const bare = await send('/payments/shown', '{"amount":1}', []);
    const w = JSON.parse((await t.gw.fetch(`/_gatehouse/approvals/${errorOf(bare).approvalId!}`, { headers: { authorization: `Bearer ${t.tokens.bob}` } })).body) as { request: { contentType: string | null; contentEncoding: string | null } };
    assert.equal(w.request.contentType, null);
    assert.equal(w.request.contentEncoding, null);
  });
});
