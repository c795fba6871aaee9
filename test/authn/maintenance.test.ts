/**
 * Background upkeep on a real SQLite store: expired sessions, logins and seen DPoP proofs are
 * deleted, and a revocation written by another instance whose event never arrived (lost on a
 * partitioned bus) still takes effect at the next refresh.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalInvalidationChannel } from '../../src/authn/local-invalidation.ts';
import { RevocationList } from '../../src/authn/revocation-list.ts';
import { startAuthnMaintenance } from '../../src/authn/maintenance.ts';
import { createAuthnSessionRepo } from '../../src/store/repos/authn-sessions-repo.ts';
import { createAuthnLoginStateRepo } from '../../src/store/repos/authn-login-states-repo.ts';
import { createAuthnRevokedTokenRepo } from '../../src/store/repos/authn-revoked-tokens-repo.ts';
import { createAuthnDpopProofRepo } from '../../src/store/repos/authn-dpop-proofs-repo.ts';
import type { Store } from '../../src/store/types.ts';
import { createTestDatabase, type TestDatabase } from './support/stores.ts';

describe('authn maintenance', () => {
  let db: TestDatabase;
  let store: Store;
  before(async () => { db = await createTestDatabase('sqlite'); store = await db.open(); });
  after(async () => { await store.close(); await db.drop(); });

  it('prunes expired state and picks up a revocation whose event was lost', async () => {
    const sessions = createAuthnSessionRepo(store.db);
    const logins = createAuthnLoginStateRepo(store.db);
    const proofs = createAuthnDpopProofRepo(store.db);
    const revokedStore = createAuthnRevokedTokenRepo(store.db);
    const channel = createLocalInvalidationChannel();
    const revocations = new RevocationList({ store: revokedStore, onInvalidate: channel.onInvalidate, publish: channel.publish });
    await revocations.load();
    const now = Date.now();
    await sessions.create({ id: 'ended', subject: 'a', issuer: 'i', amr: [], authTime: undefined, createdAt: now - 10, lastSeenAt: now - 10, expiresAt: now - 1 });
    await sessions.create({ id: 'live', subject: 'a', issuer: 'i', amr: [], authTime: undefined, createdAt: now, lastSeenAt: now, expiresAt: now + 3600_000 });
    await logins.put('old-login', { state: 's', nonce: 'n', codeVerifier: 'v', returnTo: '/', expiresAt: now - 1 });
    await proofs.firstUse('old-proof', now - 1);

    // Another instance revokes; its event is lost. Only the store knows.
    await revokedStore.add('https://idp.test', 'lost-event', Math.floor(now / 1000) + 600);
    assert.equal(revocations.isRevoked('https://idp.test', 'lost-event'), false);

    const upkeep = startAuthnMaintenance({ revocations, sessions, logins, dpopProofs: proofs, idleTimeoutMs: 30 * 60_000, pruneIntervalMs: 3600_000, revocationRefreshMs: 50 });
    try {
      await upkeep.prune();
      assert.equal(await sessions.get('ended'), undefined);
      assert.ok(await sessions.get('live'));
      assert.equal(await logins.prune(Date.now()), 0, 'the expired login is already gone');
      assert.equal(await proofs.prune(Date.now()), 0, 'the expired proof record is already gone');
      for (let i = 0; i < 100 && !revocations.isRevoked('https://idp.test', 'lost-event'); i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(revocations.isRevoked('https://idp.test', 'lost-event'), true, 'the periodic refresh read the revocation from the store');
    } finally {
      await upkeep.stop();
      revocations.close();
    }
  });
});
