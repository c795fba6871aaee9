/**
 * The approvers' API authenticated the approver as on the approval's route but skipped
 * detection's identity block: a subject blocked for an attack (or by an admin) reached no
 * route, yet could still approve other people's held requests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { identityProviderOf } from '../../src/gateway/extensions/identity.ts';
import { userAdd } from '../../src/identity/commands/user.ts';
import { tokenCreate } from '../../src/identity/commands/token.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import type { Store } from '../../src/store/types.ts';
import { addBlock } from '../../src/detect/blocks.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

type Reply = { status: number; body: string };

describe('approvals and blocked identities', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;
  let store: Store;
  const tokens: Record<string, string> = {};
  let bobId = '';

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({
      ratelimit: { edge: { enabled: false }, identity: { enabled: false } },
      detect: { blockRefreshMs: 500 },
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'payments', path: '/payments', upstream: 'app', access: 'authenticated', approval: { approverRoles: ['approver'] } }],
    }, { compose: true });
    store = await openStoreFromConfig(gw.gateway.config);
    const idp = identityProviderOf(gw.gateway.extensions)!;
    for (const [name, roles] of [['alice', ['ops']], ['bob', ['approver']]] as const) {
      const user = await userAdd(idp, { username: name, roles: [...roles] });
      if (name === 'bob') bobId = user.id;
      tokens[name] = (await tokenCreate(idp, { owner: name, name: 'test' })).token;
    }
  });

  after(async () => {
    await store?.close();
    await gw?.close();
    await upstream?.close();
  });

  const call = (who: string, method: string, path: string): Promise<Reply> =>
    gw.fetch(path, { method, headers: { authorization: `Bearer ${tokens[who]}` } });
  const error = (r: Reply) => (JSON.parse(r.body) as { error: { code: string; approvalId?: string } }).error;

  it('a blocked approver cannot approve (403 ERR_SHIELD_BLOCKED) and the request stays pending (attack: blocked account approving transfers)', async () => {
    const id = error(await call('alice', 'POST', '/payments/1')).approvalId!;
    await addBlock(store, undefined, { kind: 'subject', value: bobId, durationMs: 60_000, reason: 'test', createdBy: 'admin:test' });
    // Each instance re-reads blocks every blockRefreshMs (events on the bus apply at once; the test's store has no bus).
    await new Promise((r) => setTimeout(r, 1200));
    const r = await call('bob', 'POST', `/_gatehouse/approvals/${id}/approve`);
    assert.equal(r.status, 403, r.body);
    assert.equal(error(r).code, 'ERR_SHIELD_BLOCKED');
    const row = await store.db.selectFrom('approvals').select('status').where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(row.status, 'pending');
  });
});
