/**
 * Times that come from outside Gatehouse may be fractional: a DPoP proof's `iat` and an
 * ID token's `auth_time` are JSON numbers (RFC 7519 NumericDate allows fractions). A
 * `bigint` column takes them on SQLite (stored as REAL) but PostgreSQL refuses a fraction
 * for int8, so the same request worked on one backend and failed on the other.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, type Store } from '../../src/store/index.ts';
import { createAuthnDpopProofRepo } from '../../src/store/repos/authn-dpop-proofs-repo.ts';
import { createAuthnSessionRepo } from '../../src/store/repos/authn-sessions-repo.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-postgres.ts';

const pgSkip = await serviceOrSkip('postgres');

const backends: { name: string; skip: false | string; open: () => Promise<Store>; cleanup: () => Promise<void> }[] = [
  { name: 'sqlite', skip: false, open: () => openStore('sqlite::memory:'), cleanup: async () => {} },
  (() => {
    let database: ScratchDatabase | undefined;
    return {
      name: 'postgres',
      skip: pgSkip,
      open: async () => {
        database = await createScratchDatabase('gatehouse_store_test');
        return openStore(database.url, { poolMax: 2 });
      },
      cleanup: async () => { await database?.drop(); },
    };
  })(),
];

for (const backend of backends) {
  describe(`fractional times from outside (${backend.name})`, { skip: backend.skip }, () => {
    let store: Store;
    after(async () => {
      try { await store?.close(); } finally { await backend.cleanup(); }
    });

    it('a DPoP proof with a fractional iat is remembered (not ERR_INTERNAL), and its replay refused', async () => {
      store = await backend.open();
      await store.migrate();
      const proofs = createAuthnDpopProofRepo(store.db, { now: () => 1_700_000_000_000 });
      // What dpop-verifier passes for iat 1700000000.1234: (iat + maxAge + skew) * 1000.
      const expiresAtMs = (1_700_000_000.1234 + 60 + 5) * 1000;
      assert.ok(!Number.isInteger(expiresAtMs));
      assert.equal(await proofs.firstUse('proof-key', expiresAtMs), true);
      assert.equal(await proofs.firstUse('proof-key', expiresAtMs), false);
    });

    it('a session whose ID token carried a fractional auth_time is stored and read back as the same whole second on both backends', async () => {
      const sessions = createAuthnSessionRepo(store.db);
      const now = 1_700_000_000_000;
      await sessions.create({ id: 'session-1', subject: 'alice', issuer: 'https://idp.example', amr: ['pwd'], authTime: 1_699_999_990.75, createdAt: now, lastSeenAt: now, expiresAt: now + 3_600_000 });
      const read = await sessions.get('session-1');
      // Floored: an earlier authentication time never makes a session look fresher than it is.
      assert.equal(read?.authTime, 1_699_999_990);
    });
  });
}
