/**
 * Approval rules name methods; frameworks let a client replace the request line's method
 * (X-HTTP-Method-Override, `?_method=`). A route approving DELETE only let a
 * `POST X-HTTP-Method-Override: DELETE` through unheld, and the upstream deleted. The approve
 * stage now decides on every method the upstream may act on (as authorize does), and binds the
 * approval to them, so the approver sees "POST DELETE" and not a harmless-looking POST.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errorOf, startApprovalsGateway, type ApprovalsGateway } from './support/approvals-gateway.ts';

type Reply = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

describe('approvals and method override', () => {
  let t: ApprovalsGateway;

  before(async () => {
    t = await startApprovalsGateway(() => ({
      routes: [{ id: 'accounts', path: '/accounts', upstream: 'app', access: 'authenticated', approval: { methods: ['DELETE'], approverRoles: ['approver'] } }],
    }), [['alice', ['ops']], ['bob', ['approver']]]);
  });
  after(() => t?.close());

  const call = (who: string, method: string, path: string, headers: Record<string, string> = {}): Promise<Reply> =>
    t.gw.fetch(path, { method, headers: { authorization: `Bearer ${t.tokens[who]}`, ...headers } });
  const error = (r: Reply) => errorOf(r) as { code: string; approvalId: string };

  for (const [what, path, headers] of [
    ['X-HTTP-Method-Override: DELETE', '/accounts/42', { 'x-http-method-override': 'DELETE' }],
    ['?_method=DELETE', '/accounts/42?_method=DELETE', {}],
  ] as const) {
    it(`a POST with ${what} on a route approving DELETE is held, not forwarded (attack: method override past the approval)`, async () => {
      const before = t.upstream.received.length;
      const r = await call('alice', 'POST', path, headers);
      assert.equal(r.status, 403, r.body);
      assert.equal(error(r).code, 'ERR_APPROVAL_PENDING');
      assert.equal(t.upstream.received.length, before, 'nothing reached the upstream');
      const view = await call('bob', 'GET', `/_gatehouse/approvals/${error(r).approvalId}`);
      assert.equal((JSON.parse(view.body) as { request: { method: string } }).request.method, 'POST DELETE', 'the approver sees the method the upstream will act on');
    });
  }

  it('an approval of a plain POST cannot be used for the same POST with an override to DELETE', async () => {
    // Plain POSTs are not held on this route; an approval for "POST DELETE" is needed, so a
    // used approval id on a plain POST is simply not looked at, and the override is held again.
    const r = await call('alice', 'POST', '/accounts/7', { 'x-http-method-override': 'DELETE' });
    const id = error(r).approvalId;
    assert.equal((await call('bob', 'POST', `/_gatehouse/approvals/${id}/approve`)).status, 200);
    const used = await call('alice', 'POST', '/accounts/7', { 'x-http-method-override': 'DELETE', 'gatehouse-approval': id });
    assert.equal(used.status, 200, used.body);
    const other = await call('alice', 'POST', '/accounts/7', { 'x-http-method-override': 'PATCH, DELETE', 'gatehouse-approval': id });
    assert.equal(other.status, 403, other.body);
  });
});
