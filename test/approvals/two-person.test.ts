/**
 * Two-person approvals through a real composed gateway (real TLS, SQLite store, IdP API tokens)
 * in front of a real upstream: held requests, who may decide, and that one approval runs
 * exactly one request — the one that was approved, byte for byte.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, ConfigError } from '../../src/core/config/load.ts';
import { queryAudit } from '../../src/audit/query.ts';
import { SessionManager } from '../../src/authn/session/session-manager.ts';
import { SESSION_COOKIE } from '../../src/authn/session/cookies.ts';
import { createAuthnSessionRepo } from '../../src/store/repos/authn-sessions-repo.ts';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { insecureAgent, testConfig } from '../support/gateway.ts';
import { startApprovalsGateway, type ApprovalsGateway } from './support/approvals-gateway.ts';

type Reply = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

describe('two-person approvals', () => {
  let t: ApprovalsGateway;

  before(async () => {
    // alice holds the approver role herself: self-approval must still be refused.
    t = await startApprovalsGateway(() => ({
      routes: [{ id: 'payments', path: '/payments', upstream: 'app', access: 'authenticated', approval: { approverRoles: ['approver'] } }],
    }), [['alice', ['ops', 'approver']], ['bob', ['approver']], ['carol', ['ops']], ['dave', ['approver']]]);
  });
  after(() => t?.close());

  function call(who: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
    return t.gw.fetch(path, { method, headers: { authorization: `Bearer ${t.tokens[who]}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }, ...(body !== undefined ? { body } : {}) });
  }
  const code = (r: Reply) => (JSON.parse(r.body) as { error?: { code: string } }).error?.code;

  /** alice asks; returns the approval id from the 403. */
  async function held(path = '/payments/transfer', body = '{"amount":100}', who = 'alice'): Promise<string> {
    const r = await call(who, 'POST', path, body);
    assert.equal(r.status, 403, r.body);
    assert.equal(code(r), 'ERR_APPROVAL_PENDING');
    const id = (JSON.parse(r.body) as { error: { approvalId: string } }).error.approvalId;
    assert.match(id, /^apv_[A-Za-z0-9_-]{22}$/);
    assert.equal(r.headers['gatehouse-approval'], id);
    return id;
  }
  async function approved(path?: string, body?: string): Promise<string> {
    const id = await held(path, body);
    const r = await call('bob', 'POST', `/_gatehouse/approvals/${id}/approve`);
    assert.equal(r.status, 200, r.body);
    return id;
  }

  it('a sensitive request without an approval is held (403 ERR_APPROVAL_PENDING with its id) and never reaches the upstream', async () => {
    const before = t.upstream.received.length;
    const id = await held();
    assert.equal(t.upstream.received.length, before);
    const view = await call('bob', 'GET', `/_gatehouse/approvals/${id}`);
    assert.equal(view.status, 200, view.body);
    const v = JSON.parse(view.body) as { status: string; requester: string; request: { method: string; path: string; bodySha256: string } };
    assert.equal(v.status, 'pending');
    assert.equal(v.request.method, 'POST');
    assert.equal(v.request.path, '/payments/transfer');
    assert.match(v.request.bodySha256, /^[0-9a-f]{64}$/);
  });

  it('a method the approval does not cover (GET) passes without one', async () => {
    const r = await call('alice', 'GET', '/payments/list');
    assert.equal(r.status, 200, r.body);
  });

  it('self-approval: the requester approving their own request, though holding an approver role, is refused with ERR_APPROVAL_SELF', async () => {
    const id = await held();
    const r = await call('alice', 'POST', `/_gatehouse/approvals/${id}/approve`);
    assert.equal(r.status, 403);
    assert.equal(code(r), 'ERR_APPROVAL_SELF');
    const use = await call('alice', 'POST', '/payments/transfer', '{"amount":100}', { 'gatehouse-approval': id });
    assert.equal(code(use), 'ERR_APPROVAL_PENDING', 'still pending: nothing was approved');
  });

  it('an approver without an approver role is refused with ERR_APPROVAL_NOT_APPROVER (deciding and viewing)', async () => {
    const id = await held();
    const r = await call('carol', 'POST', `/_gatehouse/approvals/${id}/approve`);
    assert.equal(r.status, 403);
    assert.equal(code(r), 'ERR_APPROVAL_NOT_APPROVER');
    assert.equal(code(await call('carol', 'GET', `/_gatehouse/approvals/${id}`)), 'ERR_APPROVAL_NOT_APPROVER');
  });

  it('an unauthenticated decision is refused with 401 and decides nothing', async () => {
    const id = await held();
    const r = await t.gw.fetch(`/_gatehouse/approvals/${id}/approve`, { method: 'POST' });
    assert.equal(r.status, 401);
    const view = JSON.parse((await call('bob', 'GET', `/_gatehouse/approvals/${id}`)).body) as { status: string };
    assert.equal(view.status, 'pending');
  });

  it('a browser session approving from another site (CSRF) is refused with ERR_AUTHN_CROSS_SITE_REQUEST and decides nothing; from the same origin it approves', async () => {
    const idp = t.idp;
    const bob = await idp.directory.getPrincipal((await idp.accounts.findUser('bob'))!.id);
    const sessions = new SessionManager({
      store: createAuthnSessionRepo(t.store.db), principals: idp.directory, onInvalidate: () => () => undefined, publish: async () => undefined,
      idleTimeoutMs: 60_000, absoluteTimeoutMs: 3_600_000, touchIntervalMs: 60_000, maxCachedSessions: 10,
    });
    const { cookieValue } = await sessions.create(bob!, { issuer: idp.issuer, amr: ['pwd'], authTime: Math.floor(Date.now() / 1000) });
    sessions.close();
    const id = await held();
    const cookie = `${SESSION_COOKIE}=${cookieValue}`;
    for (const headers of [{ 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, { origin: 'https://evil.example' }] as Record<string, string>[]) {
      const r = await t.gw.fetch(`/_gatehouse/approvals/${id}/approve`, { method: 'POST', headers: { cookie, ...headers } });
      assert.equal(r.status, 403, JSON.stringify(headers));
      assert.equal(code(r), 'ERR_AUTHN_CROSS_SITE_REQUEST');
    }
    assert.equal((JSON.parse((await call('bob', 'GET', `/_gatehouse/approvals/${id}`)).body) as { status: string }).status, 'pending');
    const ok = await t.gw.fetch(`/_gatehouse/approvals/${id}/approve`, { method: 'POST', headers: { cookie, 'sec-fetch-site': 'same-origin' } });
    assert.equal(ok.status, 200, ok.body);
  });

  it('an approved request runs once: the upstream gets the exact body bytes, no Gatehouse-Approval header, and the approver', async () => {
    const body = '{"amount": 100, "to": "DE89 3704 0044 0532 0130 00", "note": "ünïcödé"}';
    const id = await approved('/payments/transfer', body);
    const n = t.upstream.received.length;
    const r = await call('alice', 'POST', '/payments/transfer', body, { 'gatehouse-approval': id });
    assert.equal(r.status, 200, r.body);
    assert.equal(t.upstream.received.length, n + 1);
    const got = t.upstream.received.at(-1)!;
    assert.equal(got.body, body);
    assert.equal(got.headers['gatehouse-approval'], undefined);
    assert.equal(got.headers['x-gatehouse-approval'], `${id}; approver=${(JSON.parse((await call('bob', 'GET', `/_gatehouse/approvals/${id}`)).body) as { approver: string }).approver}`);
    const view = JSON.parse((await call('bob', 'GET', `/_gatehouse/approvals/${id}`)).body) as { status: string };
    assert.equal(view.status, 'used');
  });

  it('a chunked body (no Content-Length) is bound and forwarded byte for byte, and a chunked body over maxBodyBytes is refused with 413', async () => {
    const chunked = async (approvalId?: string, parts = ['{"amount":', '42}']) => {
      const res = await request(`${t.gw.url}/payments/chunked`, {
        method: 'POST', dispatcher: insecureAgent, body: Readable.from(parts.map((p) => Buffer.from(p))),
        headers: { authorization: `Bearer ${t.tokens.alice}`, ...(approvalId ? { 'gatehouse-approval': approvalId } : {}) },
      });
      return { status: res.statusCode, headers: res.headers as Record<string, string | string[] | undefined>, body: await res.body.text() };
    };
    const first = await chunked();
    assert.equal(code(first), 'ERR_APPROVAL_PENDING');
    const id = (JSON.parse(first.body) as { error: { approvalId: string } }).error.approvalId;
    assert.equal((await call('bob', 'POST', `/_gatehouse/approvals/${id}/approve`)).status, 200);
    const n = t.upstream.received.length;
    const r = await chunked(id, ['{"am', 'ount":4', '2}']);
    assert.equal(r.status, 200, r.body);
    assert.equal(t.upstream.received.length, n + 1);
    assert.equal(t.upstream.received.at(-1)!.body, '{"amount":42}');
    const big = await chunked(undefined, Array.from({ length: 20 }, () => 'x'.repeat(1024 * 1024)));
    assert.equal(big.status, 413);
  });

  it('replay of a used approval is refused with ERR_APPROVAL_USED and does not reach the upstream', async () => {
    const id = await approved();
    assert.equal((await call('alice', 'POST', '/payments/transfer', '{"amount":100}', { 'gatehouse-approval': id })).status, 200);
    const n = t.upstream.received.length;
    const r = await call('alice', 'POST', '/payments/transfer', '{"amount":100}', { 'gatehouse-approval': id });
    assert.equal(r.status, 403);
    assert.equal(code(r), 'ERR_APPROVAL_USED');
    assert.equal(t.upstream.received.length, n);
  });

  it('approval laundering: the approved id with another path, query, body, method or requester is refused with ERR_APPROVAL_MISMATCH, and stays good for the approved request', async () => {
    const id = await approved('/payments/transfer', '{"amount":100}');
    const n = t.upstream.received.length;
    const attempts: Reply[] = [
      await call('alice', 'POST', '/payments/transfer-all', '{"amount":100}', { 'gatehouse-approval': id }),
      await call('alice', 'POST', '/payments/transfer?to=mallory', '{"amount":100}', { 'gatehouse-approval': id }),
      await call('alice', 'POST', '/payments/transfer', '{"amount":1000000}', { 'gatehouse-approval': id }),
      await call('alice', 'PUT', '/payments/transfer', '{"amount":100}', { 'gatehouse-approval': id }),
      await call('carol', 'POST', '/payments/transfer', '{"amount":100}', { 'gatehouse-approval': id }),
      await call('bob', 'POST', '/payments/transfer', '{"amount":100}', { 'gatehouse-approval': id }),
    ];
    for (const r of attempts) {
      assert.equal(r.status, 403, r.body);
      assert.equal(code(r), 'ERR_APPROVAL_MISMATCH');
    }
    assert.equal(t.upstream.received.length, n);
    assert.equal((await call('alice', 'POST', '/payments/transfer', '{"amount":100}', { 'gatehouse-approval': id })).status, 200);
  });

  it('a malformed or unknown approval id is refused with ERR_APPROVAL_INVALID', async () => {
    for (const value of ['nope', 'apv_AAAAAAAAAAAAAAAAAAAAAA', 'apv_\'; drop table approvals; --']) {
      const r = await call('alice', 'POST', '/payments/transfer', '{}', { 'gatehouse-approval': value });
      assert.equal(code(r), 'ERR_APPROVAL_INVALID', value);
    }
  });

  it('a denied request is refused with ERR_APPROVAL_DENIED and cannot be approved afterwards', async () => {
    const id = await held();
    assert.equal((await call('bob', 'POST', `/_gatehouse/approvals/${id}/deny`)).status, 200);
    const r = await call('alice', 'POST', '/payments/transfer', '{"amount":100}', { 'gatehouse-approval': id });
    assert.equal(code(r), 'ERR_APPROVAL_DENIED');
    const late = await call('dave', 'POST', `/_gatehouse/approvals/${id}/approve`);
    assert.equal(late.status, 409);
    assert.equal(code(late), 'ERR_APPROVAL_NOT_PENDING');
  });

  it('an expired request cannot be approved, and an approval past its use window is refused with ERR_APPROVAL_EXPIRED', async () => {
    const pending = await held();
    await t.store.db.updateTable('approvals').set({ expires_at: Date.now() - 1 }).where('id', '=', pending).execute();
    assert.equal(code(await call('bob', 'POST', `/_gatehouse/approvals/${pending}/approve`)), 'ERR_APPROVAL_EXPIRED');

    const id = await approved();
    await t.store.db.updateTable('approvals').set({ use_by: Date.now() - 1 }).where('id', '=', id).execute();
    const r = await call('alice', 'POST', '/payments/transfer', '{"amount":100}', { 'gatehouse-approval': id });
    assert.equal(code(r), 'ERR_APPROVAL_EXPIRED');
    const row = await t.store.db.selectFrom('approvals').select('status').where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(row.status, 'expired');
  });

  it('two concurrent uses of one approval: exactly one reaches the upstream, the other is refused', async () => {
    const id = await approved();
    const n = t.upstream.received.length;
    const results = await Promise.all(Array.from({ length: 8 }, () => call('alice', 'POST', '/payments/transfer', '{"amount":100}', { 'gatehouse-approval': id })));
    assert.equal(results.filter((r) => r.status === 200).length, 1, results.map((r) => r.body).join('\n'));
    for (const r of results.filter((x) => x.status !== 200)) assert.equal(code(r), 'ERR_APPROVAL_USED');
    assert.equal(t.upstream.received.length, n + 1);
  });

  it('every step is audited: requested, approved, used and a refused replay, with requester, approver and binding', async () => {
    const id = await approved('/payments/audited', '{"amount":7}');
    assert.equal((await call('alice', 'POST', '/payments/audited', '{"amount":7}', { 'gatehouse-approval': id })).status, 200);
    assert.equal((await call('alice', 'POST', '/payments/audited', '{"amount":7}', { 'gatehouse-approval': id })).status, 403);
    const want = ['approval.requested', 'approval.approved', 'approval.used', 'approval.refused'];
    const found = new Map<string, Record<string, unknown>>();
    for (const deadline = Date.now() + 10_000; found.size < want.length && Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      for (const event of want) {
        for await (const r of queryAudit(t.store, { event })) {
          const details = (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as Record<string, unknown>;
          if (details.approvalId === id) found.set(event, details);
        }
      }
    }
    assert.deepEqual([...found.keys()].sort(), [...want].sort());
    for (const event of ['approval.requested', 'approval.approved', 'approval.used']) {
      assert.equal(found.get(event)!.path, '/payments/audited', event);
      assert.match(String(found.get(event)!.requester), /\S/, event);
    }
    assert.equal(found.get('approval.approved')!.approver, found.get('approval.used')!.approver);
    assert.equal(found.get('approval.refused')!.code, 'ERR_APPROVAL_USED');
  });
});

describe('approval configuration', () => {
  it('an approval on an access: public route is refused, naming routes.<i>.approval', () => {
    const input = testConfig('/tmp/x', {
      upstreams: { app: { url: 'http://127.0.0.1:1' } },
      routes: [{ id: 'open', path: '/open', upstream: 'app', access: 'public', approval: { approverRoles: ['approver'] } }],
    });
    assert.throws(() => parseConfig(input), (err: unknown) => err instanceof ConfigError && JSON.stringify(err.problems).includes('"routes",0,"approval"'));
  });

  it('an approval without approver roles is refused', () => {
    const input = testConfig('/tmp/x', {
      upstreams: { app: { url: 'http://127.0.0.1:1' } },
      routes: [{ id: 'r', path: '/r', upstream: 'app', access: 'authenticated', approval: { approverRoles: [] } }],
    });
    assert.throws(() => parseConfig(input), ConfigError);
  });
});
