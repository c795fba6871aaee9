/**
 * A two-person approval is a second *person's* decision. The approvers' API checked only that
 * the decider held one of `approverRoles` and was not the requester: a service account (client
 * credentials, or an mTLS workload) given that role — often one shared with policies, such as
 * `admin` — could approve held requests, so whoever runs or holds the service's secret could
 * approve their own request, and no person ever looked at it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { clientAdd } from '../../src/identity/commands/client.ts';
import { insecureAgent } from '../support/gateway.ts';
import { errorOf as error, startApprovalsGateway, type ApprovalsGateway } from './support/approvals-gateway.ts';

type Reply = { status: number; body: string };

describe('approvers are people', () => {
  let t: ApprovalsGateway;

  before(async () => {
    t = await startApprovalsGateway(() => ({
      routes: [{ id: 'payments', path: '/payments', upstream: 'app', access: 'authenticated', approval: { approverRoles: ['approver'] } }],
    }), [['alice', ['ops']], ['bob', ['approver']]]);
    const { secret } = await clientAdd(t.idp, { clientId: 'payout-bot', kind: 'service', name: 'payout-bot', roles: ['approver'] });
    const res = await request(`${t.gw.url}/oidc/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`payout-bot:${secret}`).toString('base64')}` },
      body: 'grant_type=client_credentials',
      dispatcher: insecureAgent,
    });
    const json = (await res.body.json()) as { access_token?: string };
    assert.ok(json.access_token, JSON.stringify(json));
    t.tokens['payout-bot'] = json.access_token;
  });

  after(() => t?.close());

  const call = (who: string, method: string, path: string): Promise<Reply> =>
    t.gw.fetch(path, { method, headers: { authorization: `Bearer ${t.tokens[who]}` } });
  const statusOf = async (id: string) => (await t.store.db.selectFrom('approvals').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;

  it('a service account holding an approver role cannot approve or deny (403 ERR_APPROVAL_NOT_APPROVER) and the request stays pending (attack: a machine credential as the second person)', async () => {
    const id = error(await call('alice', 'POST', '/payments/1')).approvalId!;
    // The service is authenticated (a service may call the route), it just is not a person.
    assert.equal((await call('payout-bot', 'GET', '/payments/list')).status, 200);
    for (const action of ['approve', 'deny']) {
      const r = await call('payout-bot', 'POST', `/_gatehouse/approvals/${id}/${action}`);
      assert.equal(r.status, 403, r.body);
      assert.equal(error(r).code, 'ERR_APPROVAL_NOT_APPROVER');
    }
    assert.equal(await statusOf(id), 'pending');
    const ok = await call('bob', 'POST', `/_gatehouse/approvals/${id}/approve`);
    assert.equal(ok.status, 200, ok.body);
    assert.equal(await statusOf(id), 'approved');
  });
});
