/**
 * The approvers' API authenticated the approver as on the approval's route but skipped
 * detection's identity block: a subject blocked for an attack (or by an admin) reached no
 * route, yet could still approve other people's held requests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addBlock } from '../../src/detect/blocks.ts';
import { errorOf as error, startApprovalsGateway, type ApprovalsGateway } from './support/approvals-gateway.ts';

type Reply = { status: number; body: string };

describe('approvals and blocked identities', () => {
  let t: ApprovalsGateway;

  before(async () => {
    t = await startApprovalsGateway(() => ({
      detect: { blockRefreshMs: 500 },
      routes: [{ id: 'payments', path: '/payments', upstream: 'app', access: 'authenticated', approval: { approverRoles: ['approver'] } }],
    }), [['alice', ['ops']], ['bob', ['approver']]]);
  });
  after(() => t?.close());

  const call = (who: string, method: string, path: string): Promise<Reply> =>
    t.gw.fetch(path, { method, headers: { authorization: `Bearer ${t.tokens[who]}` } });

  it('a blocked approver cannot approve (403 ERR_SHIELD_BLOCKED) and the request stays pending (attack: blocked account approving transfers)', async () => {
    const id = error(await call('alice', 'POST', '/payments/1')).approvalId!;
    await addBlock(t.store, undefined, { kind: 'subject', value: t.ids.bob!, durationMs: 60_000, reason: 'test', createdBy: 'admin:test' });
    // Each instance re-reads blocks every blockRefreshMs (events on the bus apply at once; the test's store has no bus).
    await new Promise((r) => setTimeout(r, 1200));
    const r = await call('bob', 'POST', `/_gatehouse/approvals/${id}/approve`);
    assert.equal(r.status, 403, r.body);
    assert.equal(error(r).code, 'ERR_SHIELD_BLOCKED');
    const row = await t.store.db.selectFrom('approvals').select('status').where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(row.status, 'pending');
  });
});
