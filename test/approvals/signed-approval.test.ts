/**
 * The approval an upstream can trust: through a real composed gateway (real TLS, SQLite store,
 * IdP API tokens) to a real upstream that verifies the identity assertion with the SDK
 * (withGatehouseIdentity + requireApproval), as a protected service does. An approved request's
 * assertion carries the signed `approval` claim and is bound to the request even on a route in
 * cached mode; nothing else carries one, and no client can make one up.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeJwt, type JSONWebKeySet } from 'jose';
import {
  createAssertionVerifier, identityOf, IDENTITY_ASSERTION_HEADER, IDENTITY_ASSERTION_JWKS_PATH, requireApproval, sendError,
  withGatehouseIdentity, type AssertionVerifier, type GatehouseIdentity,
} from '../../src/sdk/index.ts';
import { startApprovalsGateway, type ApprovalsGateway } from './support/approvals-gateway.ts';

type Reply = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

describe('the upstream learns the approval from the signed assertion', () => {
  let t: ApprovalsGateway;
  let verifier: AssertionVerifier | undefined;
  /** What the service verified, per request it received. */
  const seen: { identity: GatehouseIdentity | undefined; claims: Record<string, unknown> | undefined; requestId: unknown; approvalHeader: unknown }[] = [];

  // The protected service: SDK middleware, then the guard; it answers with the approval it verified.
  const service = (req: IncomingMessage, res: ServerResponse) => withGatehouseIdentity(verifier!, (r: IncomingMessage, s: ServerResponse) => {
    const identity = identityOf(r);
    const token = r.headers[IDENTITY_ASSERTION_HEADER];
    seen.push({ identity, claims: typeof token === 'string' ? decodeJwt(token) : undefined, requestId: r.headers['x-request-id'], approvalHeader: r.headers['x-gatehouse-approval'] });
    try {
      const approval = requireApproval(identity);
      s.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ approval }));
    } catch (err) {
      sendError(s, err);
    }
  }, {
    // This stand-in reads the unsigned header to show the gateway replaced a forged one; real services read identity.approval.
    keepUnsignedIdentityHeaders: ['x-gatehouse-approval'],
    onRefused: (err, r) => seen.push({ identity: undefined, claims: undefined, requestId: r.headers['x-request-id'], approvalHeader: err.code }),
  })(req, res);

  before(async () => {
    t = await startApprovalsGateway(() => ({
      routes: [
        // Cached mode (the default) on both: an approved request must still get a bound assertion.
        { id: 'payments', path: '/payments', upstream: 'app', access: 'authenticated', approval: { approverRoles: ['approver'] } },
        { id: 'open', path: '/open', upstream: 'app', access: 'authenticated' },
      ],
    }), [['alice', ['ops']], ['bob', ['approver']]], (req, res) => { void service(req, res); });
    const jwks = await t.gw.fetch(IDENTITY_ASSERTION_JWKS_PATH);
    assert.equal(jwks.status, 200, jwks.body);
    const config = t.gw.gateway.config;
    verifier = createAssertionVerifier({ jwks: JSON.parse(jwks.body) as JSONWebKeySet, issuer: config.policy.assertion.issuer ?? config.publicUrl!, audience: 'app' });
  });

  after(() => t?.close());

  function call(who: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
    return t.gw.fetch(path, { method, headers: { authorization: `Bearer ${t.tokens[who]}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }, ...(body !== undefined ? { body } : {}) });
  }
  const code = (r: Reply) => (JSON.parse(r.body) as { error?: { code: string } }).error?.code;

  async function approvedBy(approver: string, path: string, body: string): Promise<string> {
    const held = await call('alice', 'POST', path, body);
    assert.equal(held.status, 403, held.body);
    const id = (JSON.parse(held.body) as { error: { approvalId: string } }).error.approvalId;
    const ok = await call(approver, 'POST', `/_gatehouse/approvals/${id}/approve`);
    assert.equal(ok.status, 200, ok.body);
    return id;
  }

  it('an approved request reaches the service with a request-bound assertion carrying approval {id, approver}, on a route in cached mode', async () => {
    const id = await approvedBy('bob', '/payments/transfer', '{"amount":1}');
    const from = seen.length;
    const r = await call('alice', 'POST', '/payments/transfer', '{"amount":1}', { 'gatehouse-approval': id });
    assert.equal(r.status, 200, r.body);
    const got = seen[from]!;
    const approver = (JSON.parse(r.body) as { approval: { id: string; approver: string } }).approval.approver;
    assert.deepEqual(JSON.parse(r.body), { approval: { id, approver } });
    assert.deepEqual(got.identity!.approval, { id, approver });
    assert.notEqual(approver, got.identity!.subject, 'the approver is the second person, not the requester');
    assert.equal(got.claims!.rid, got.requestId, 'bound to this request id');
    assert.equal(got.claims!.htm, 'POST');
    assert.equal(got.claims!.htu, '/payments/transfer');
    assert.equal(got.identity!.requestId, got.requestId);
    // The unsigned header says the same, for upstreams that verify nothing.
    assert.equal(got.approvalHeader, `${id}; approver=${approver}`);
  });

  it('a request without an approval carries none (cached assertion) and the service\'s requireApproval refuses it with 403 ERR_SDK_APPROVAL_REQUIRED', async () => {
    const from = seen.length;
    const r = await call('alice', 'POST', '/open/transfer', '{"amount":1}');
    assert.equal(r.status, 403, r.body);
    assert.equal(code(r), 'ERR_SDK_APPROVAL_REQUIRED');
    const got = seen[from]!;
    assert.equal(got.identity!.subject.length > 0, true);
    assert.equal(got.identity!.approval, undefined);
    assert.equal(got.claims!.approval, undefined);
    assert.equal(got.claims!.rid, undefined, 'the route\'s cached mode is kept when there is no approval');
  });

  it('a forged x-gatehouse-approval header from the client never reaches the upstream, and the service still refuses (403 ERR_SDK_APPROVAL_REQUIRED)', async () => {
    const from = seen.length;
    const r = await call('alice', 'POST', '/open/transfer', '{"amount":1}', { 'x-gatehouse-approval': 'apv_AAAAAAAAAAAAAAAAAAAAAA; approver=bob', x_gatehouse_approval: 'apv_B; approver=bob' });
    assert.equal(r.status, 403, r.body);
    assert.equal(code(r), 'ERR_SDK_APPROVAL_REQUIRED');
    const received = t.upstream.received.at(-1)!;
    assert.equal(received.headers['x-gatehouse-approval'], undefined);
    assert.equal(received.headers['x_gatehouse_approval'], undefined);
    assert.equal(seen[from]!.identity!.approval, undefined);
  });

  it('a forged x-gatehouse-approval header on an approved request is replaced by the gateway\'s own', async () => {
    const id = await approvedBy('bob', '/payments/other', '{"amount":2}');
    const from = seen.length;
    const r = await call('alice', 'POST', '/payments/other', '{"amount":2}', { 'gatehouse-approval': id, 'x-gatehouse-approval': `${id}; approver=mallory` });
    assert.equal(r.status, 200, r.body);
    const got = seen[from]!;
    assert.equal(got.identity!.approval!.id, id);
    assert.notEqual(got.identity!.approval!.approver, 'mallory');
    assert.equal(got.approvalHeader, `${id}; approver=${got.identity!.approval!.approver}`);
  });
});
