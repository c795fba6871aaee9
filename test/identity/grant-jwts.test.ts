/**
 * GrantJwts (src/identity/oidc/grant-jwts.ts) over a real SQLite store: what is recorded when a
 * JWT access token is issued, that issuance fails closed, and what revoking a grant or ending a
 * client's tokens (ClientGrants) revokes.
 * The end-to-end behaviour at the gateway is in grant-revocation-jwt.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { createKvRepo, type KvRepo } from '../../src/store/repos/kv-repo.ts';
import { CLIENT_JWT_NAMESPACE, GRANT_JWT_NAMESPACE, GrantJwts, type RevokedGrantJwt } from '../../src/identity/oidc/grant-jwts.ts';
import { ClientGrants } from '../../src/identity/oidc/client-grants.ts';
import type { ClientRecord } from '../../src/store/repos/identity-clients-repo.ts';

const ISSUER = 'https://gw.test';

describe('JWT access tokens recorded under their grant and their client', () => {
  let dir: string;
  let store: Store;
  let kv: KvRepo;
  const now = Date.UTC(2030, 0, 1);
  const nowSec = now / 1000;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-grant-jwts-'));
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    await store.migrate();
    kv = createKvRepo(store.db, { now: () => now });
  });
  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The clients there are (id → disabled); what is not here was removed. */
  const clients = new Map<string, boolean>([['spa', false], ['other', false], ['svc', false]]);

  function grantJwts(over: Partial<{ kv: KvRepo }> = {}) {
    const added: [string, string, number][] = [];
    const announced: RevokedGrantJwt[] = [];
    const jwts = new GrantJwts({
      kv: over.kv ?? kv, issuer: ISSUER, now: () => now, clients: { find: async (id) => (clients.has(id) ? { clientId: id, disabled: clients.get(id)! } as ClientRecord : undefined) },
      revoked: { add: async (issuer, jti, exp) => { added.push([issuer, jti, exp]); } },
      announce: (jwt) => { announced.push(jwt); },
    });
    return { jwts, added, announced };
  }

  async function grant(id: string): Promise<void> {
    await kv.upsert('oidc:Grant', id, { jti: id }, 3600);
  }

  it('issues no JWT access token whose record cannot be written (store failure: fail closed)', async () => {
    await grant('g-fail');
    const broken: KvRepo = { ...kv, upsert: async () => { throw new Error('store unavailable'); } };
    await assert.rejects(grantJwts({ kv: broken }).jwts.record({ grantId: 'g-fail' }, { jti: 'j-fail', exp: nowSec + 600 }), /store unavailable/);
  });

  it('issues no JWT access token of a grant revoked while it was being issued (race with a replay)', async () => {
    const { jwts } = grantJwts();
    await assert.rejects(jwts.record({ grantId: 'g-gone' }, { jti: 'j-gone', exp: nowSec + 600 }), (e: any) => e.error === 'invalid_grant');
  });

  it('refuses to issue a grant\'s JWT without jti or exp (it could not be revoked)', async () => {
    await grant('g-bad');
    await assert.rejects(grantJwts().jwts.record({ grantId: 'g-bad' }, { exp: nowSec + 600 }));
    await assert.rejects(grantJwts().jwts.record({ grantId: 'g-bad' }, { jti: 'j-bad' }));
  });

  it('records nothing for a token of no grant (client credentials)', async () => {
    await grantJwts().jwts.record({}, { jti: 'j-cc', exp: nowSec + 600 });
    assert.equal(await kv.find(GRANT_JWT_NAMESPACE, 'j-cc'), undefined);
  });

  it('keeps a record as long as its token can be accepted (exp + the longest gateway clock skew), no longer', async () => {
    await grant('g-ttl');
    await grantJwts().jwts.record({ grantId: 'g-ttl' }, { jti: 'j-ttl', exp: nowSec + 600 });
    assert.equal((await kv.find(GRANT_JWT_NAMESPACE, 'j-ttl'))?.expiresAt, now + (600 + 300) * 1000);
  });

  it('revokes every JWT of a revoked grant still acceptable, and none of another grant', async () => {
    for (const g of ['g-a', 'g-b']) await grant(g);
    const { jwts, added, announced } = grantJwts();
    await jwts.record({ grantId: 'g-a' }, { jti: 'a1', exp: nowSec + 600 });
    await jwts.record({ grantId: 'g-a' }, { jti: 'a2', exp: nowSec + 60 });
    await jwts.record({ grantId: 'g-b' }, { jti: 'b1', exp: nowSec + 600 });
    await jwts.revokeGrant('g-a');
    assert.deepEqual(added, [[ISSUER, 'a1', nowSec + 600], [ISSUER, 'a2', nowSec + 60]]);
    assert.deepEqual(announced.map((j) => j.jti), ['a1', 'a2']);
    assert.equal(await kv.find('oidc:Grant', 'g-a'), undefined, 'the grant is gone');
    assert.ok(await kv.find('oidc:Grant', 'g-b'));
    assert.equal((await kv.findByGrantId(GRANT_JWT_NAMESPACE, 'g-b')).length, 1);
  });

  it('issues no JWT access token to a client removed or disabled while it was being issued (race with a removal)', async () => {
    await grant('g-race');
    const { jwts } = grantJwts();
    clients.set('suspended', true);
    await assert.rejects(jwts.record({ grantId: 'g-race', clientId: 'suspended' }, { jti: 'j-suspended', exp: nowSec + 600 }), (e: any) => e.error === 'invalid_client');
    await assert.rejects(jwts.record({ clientId: 'gone' }, { jti: 'j-gone-client', exp: nowSec + 600 }), (e: any) => e.error === 'invalid_client');
  });

  it("ends a client's grants with their records and every JWT it was issued, with a grant or none, and nothing of another client", async () => {
    const { jwts, added, announced } = grantJwts();
    const clientGrants = new ClientGrants(kv, jwts);
    for (const [g, client] of [['g-spa1', 'spa'], ['g-spa2', 'spa'], ['g-other', 'other']] as const) {
      await clientGrants.record(client, g, 3600);
      await grant(g);
      await kv.upsert('oidc:RefreshToken', `rt-${g}`, { grantId: g, clientId: client }, 3600);
    }
    await jwts.record({ grantId: 'g-spa1', clientId: 'spa' }, { jti: 's1', exp: nowSec + 600 });
    await jwts.record({ grantId: 'g-spa2', clientId: 'spa' }, { jti: 's2', exp: nowSec + 600 });
    await jwts.record({ grantId: 'g-other', clientId: 'other' }, { jti: 'o1', exp: nowSec + 600 });
    await jwts.record({ clientId: 'svc' }, { jti: 'cc1', exp: nowSec + 600 });
    clients.delete('spa');
    assert.deepEqual(await clientGrants.endAll('spa'), { grants: 2, accessTokens: 2 });
    assert.deepEqual(added.map(([, jti]) => jti).sort(), ['s1', 's2']);
    assert.deepEqual(announced.map((j) => j.jti).sort(), ['s1', 's2'], 'each once, though recorded under grant and client');
    for (const g of ['g-spa1', 'g-spa2']) {
      assert.equal(await kv.find('oidc:Grant', g), undefined);
      assert.equal(await kv.find('oidc:RefreshToken', `rt-${g}`), undefined);
    }
    assert.ok(await kv.find('oidc:Grant', 'g-other'));
    assert.ok(await kv.find('oidc:RefreshToken', 'rt-g-other'));
    assert.equal((await kv.findByGrantId(CLIENT_JWT_NAMESPACE, 'client:spa')).length, 0, 'a client registered again starts with nothing');
    assert.deepEqual(await clientGrants.endAll('spa'), { grants: 0, accessTokens: 0 }, 'repeating it finds nothing more');

    clients.delete('svc');
    assert.deepEqual(await clientGrants.endAll('svc'), { grants: 0, accessTokens: 1 }, 'a client-credentials JWT has no grant');
    assert.equal(announced.at(-1)?.jti, 'cc1');
  });
});
