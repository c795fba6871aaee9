/**
 * The approvers' API ran the approval's route authentication, detection's identity block and
 * (on a step-up route) its fresh second factor, but not the route's own `ipRules`: on a route
 * usable only from the office network, a held request could be approved from anywhere — an
 * approver's stolen credential from outside did what the route itself refuses from there.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errorOf as error, startApprovalsGateway, type ApprovalsGateway } from './support/approvals-gateway.ts';

type Reply = { status: number; body: string };

describe('approvals on a route with ipRules', () => {
  let t: ApprovalsGateway;

  before(async () => {
    t = await startApprovalsGateway(() => ({
      // The test client connects from loopback, a trusted proxy: X-Forwarded-For names the client.
      trustedProxies: ['127.0.0.1'],
      routes: [{
        id: 'payments', path: '/payments', upstream: 'app', access: 'authenticated',
        ipRules: { allow: ['10.20.0.0/16'] }, approval: { approverRoles: ['approver'] },
      }],
    }), [['alice', ['ops']], ['bob', ['approver']]]);
  });
  after(() => t?.close());

  const call = (who: string, method: string, path: string, from: string): Promise<Reply> =>
    t.gw.fetch(path, { method, headers: { authorization: `Bearer ${t.tokens[who]}`, 'x-forwarded-for': from } });
  const statusOf = async (id: string) => (await t.store.db.selectFrom('approvals').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;

  it('an approver outside the route\'s allowed network cannot view, approve or deny (403 ERR_SHIELD_IP_DENIED) and the request stays pending; from inside it approves (attack: approving an office-only operation from anywhere)', async () => {
    assert.equal((await call('alice', 'POST', '/payments/1', '203.0.113.9')).status, 403, 'the route itself refuses the outside address');
    const held = await call('alice', 'POST', '/payments/1', '10.20.0.5');
    assert.equal(error(held).code, 'ERR_APPROVAL_PENDING');
    const id = error(held).approvalId!;
    for (const [method, path] of [['GET', `/_gatehouse/approvals/${id}`], ['POST', `/_gatehouse/approvals/${id}/approve`], ['POST', `/_gatehouse/approvals/${id}/deny`]] as const) {
      const r = await call('bob', method, path, '203.0.113.9');
      assert.equal(r.status, 403, `${method} ${path}: ${r.body}`);
      assert.equal(error(r).code, 'ERR_SHIELD_IP_DENIED');
    }
    assert.equal(await statusOf(id), 'pending');
    const ok = await call('bob', 'POST', `/_gatehouse/approvals/${id}/approve`, '10.20.0.6');
    assert.equal(ok.status, 200, ok.body);
    const used = await t.gw.fetch('/payments/1', { method: 'POST', headers: { authorization: `Bearer ${t.tokens.alice}`, 'x-forwarded-for': '10.20.0.5', 'gatehouse-approval': id } });
    assert.equal(used.status, 200, used.body);
  });
});
