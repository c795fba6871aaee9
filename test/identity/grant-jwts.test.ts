/**
 * GrantJwts (src/identity/oidc/grant-jwts.ts) over a real SQLite store: what is recorded when a
 * JWT access token is issued, that issuance fails closed, and what revoking a grant revokes.
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
import { GRANT_JWT_NAMESPACE, GrantJwts, type RevokedGrantJwt } from '../../src/identity/oidc/grant-jwts.ts';

const ISSUER = 'https://gw.test';

describe('JWT access tokens recorded under their grant', () => {
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

  function grantJwts(over: Partial<{ kv: KvRepo }> = {}) {
    const added: [string, string, number][] = [];
    const announced: RevokedGrantJwt[] = [];
    const jwts = new GrantJwts({
      kv: over.kv ?? kv, issuer: ISSUER, now: () => now,
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
});
