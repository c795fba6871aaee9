/**
 * Held requests come before the per-identity rate limit, and each stored a row: one principal
 * (or a stolen token) could fill the approvals table without bound and bury real requests in
 * the approvers' list. A requester now has at most `maxOpenPerRequester` open approvals; and
 * approvals that are over are pruned from the table after 30 days (the audit log keeps them).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createApprovalsRepo } from '../../src/store/repos/approvals-repo.ts';
import { newApprovalId } from '../../src/approvals/approval-id.ts';
import { RETAIN_MS } from '../../src/approvals/approvals-component.ts';
import { errorOf, startApprovalsGateway, type ApprovalsGateway } from './support/approvals-gateway.ts';

type Reply = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

describe('open approvals per requester', () => {
  let t: ApprovalsGateway;

  before(async () => {
    t = await startApprovalsGateway(() => ({
      routes: [{ id: 'payments', path: '/payments', upstream: 'app', access: 'authenticated', approval: { approverRoles: ['approver'], maxOpenPerRequester: 2 } }],
    }), [['alice', ['ops']], ['bob', ['approver']], ['carol', ['ops']]]);
  });
  after(() => t?.close());

  const call = (who: string, method: string, path: string, headers: Record<string, string> = {}): Promise<Reply> =>
    t.gw.fetch(path, { method, headers: { authorization: `Bearer ${t.tokens[who]}`, ...headers } });
  const error = errorOf;
  const rows = async () => (await t.store.db.selectFrom('approvals').select('id').execute()).length;

  it('a requester flooding held requests is refused with 429 ERR_APPROVAL_LIMIT past the bound, and nothing more is stored (attack: approval-table flood)', async () => {
    const first = error(await call('alice', 'POST', '/payments/1')).approvalId!;
    assert.equal(error(await call('alice', 'POST', '/payments/2')).code, 'ERR_APPROVAL_PENDING');
    const stored = await rows();
    const third = await call('alice', 'POST', '/payments/3');
    assert.equal(third.status, 429, third.body);
    assert.equal(error(third).code, 'ERR_APPROVAL_LIMIT');
    assert.equal(await rows(), stored, 'nothing stored');
    // Another requester is not affected.
    assert.equal(error(await call('carol', 'POST', '/payments/9')).code, 'ERR_APPROVAL_PENDING');
    // An approval that is used no longer counts: alice may ask again.
    assert.equal((await call('bob', 'POST', `/_gatehouse/approvals/${first}/approve`)).status, 200);
    assert.equal(error(await call('alice', 'POST', '/payments/3')).code, 'ERR_APPROVAL_LIMIT', 'approved but unused still counts');
    assert.equal((await call('alice', 'POST', '/payments/1', { 'gatehouse-approval': first })).status, 200);
    assert.equal(error(await call('alice', 'POST', '/payments/3')).code, 'ERR_APPROVAL_PENDING');
  });

  it('prune removes approvals that are over and older than the retention, and keeps the open ones', async () => {
    const repo = createApprovalsRepo(t.store.db);
    const now = Date.now();
    const old = now - RETAIN_MS - 60_000;
    const make = async (status: 'used' | 'denied' | 'pending' | 'approved', expiresAt: number, useBy: number | null) => {
      const id = newApprovalId();
      await repo.create({ routeId: 'payments', requester: 'usr_x', requesterIssuer: '', method: 'POST', host: 'h', path: '/p', query: '', bodySha256: 'b'.repeat(64), contentType: null, contentEncoding: null, id, body: Buffer.alloc(0), expiresAt });
      // created_at is insert-only in the table's type; the test ages the row as time would.
      await t.store.db.updateTable('approvals').set({ status, use_by: useBy, ...({ created_at: old } as object) }).where('id', '=', id).execute();
      return id;
    };
    const used = await make('used', old + 1000, null);
    const denied = await make('denied', old + 1000, null);
    const stalePending = await make('pending', old + 1000, null);
    const openApproved = await make('approved', old + 1000, now + 60_000);
    const removed = await repo.prune(now - RETAIN_MS);
    assert.ok(removed >= 3);
    for (const id of [used, denied, stalePending]) assert.equal(await repo.get(id), undefined, id);
    assert.ok(await repo.get(openApproved), 'an approval that can still be used is kept');
  });
});
