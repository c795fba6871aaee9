/**
 * Two first sign-ins that link different external identities to one account at the same
 * time. The link is a conditional INSERT ("only while the account has none"), which under
 * PostgreSQL's READ COMMITTED lets both inserts see no link and both succeed: the account
 * ends up with two identities, and whoever holds the second takes it over.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Migrator } from 'kysely';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { MIGRATIONS } from '../../src/store/migrations/index.ts';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import { createScratchDatabase } from '../support/scratch-postgres.ts';

type Backend = 'sqlite' | 'postgres';

/** A fresh, empty database of `backend` (not migrated) and how to drop it. */
async function emptyStore(backend: Backend): Promise<{ store: Store; drop(): Promise<void> }> {
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'gh-link-race-'));
    const store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    return { store, drop: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
  }
  const database = await createScratchDatabase('gh_link');
  const store = await openStore(database.url);
  return { store, drop: async () => { try { await store.close(); } finally { await database.drop(); } } };
}

for (const backend of ['sqlite', 'postgres'] as Backend[]) {
  describe(`federation: concurrent links to one account (${backend})`, () => {
    let db: Awaited<ReturnType<typeof emptyStore>>;
    let users: IdentityUsersRepo;
    let n = 0;

    before(async () => {
      db = await emptyStore(backend);
      await db.store.migrate();
      users = new IdentityUsersRepo(db.store.db);
    });
    after(async () => { await db?.drop(); });

    const newUser = async () => (await users.insert({ id: `usr_race${n}`, username: `race${n}`, email: `race${n++}@example.com`, roles: [] })).id;
    const linksOf = async (userId: string) => db.store.db.selectFrom('identity_federated_links').selectAll().where('user_id', '=', userId).execute();

    it('links at most one of several identities of one provider racing for an account; the others get a conflict, not an error', async () => {
      for (let round = 0; round < 15; round++) {
        const userId = await newUser();
        const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => users.linkIfFree('corp', `sub-${round}-${i}`, userId, 'provider')));
        assert.deepEqual(results.filter((r) => r.status === 'rejected'), [], 'a lost race is a conflict (false), never a store error');
        const won = results.filter((r) => r.status === 'fulfilled' && r.value === true).length;
        assert.equal(won, 1, `round ${round}: ${won} identities of one provider linked to one account`);
        assert.equal((await linksOf(userId)).length, 1);
      }
    });

    it('links at most one identity of any provider racing for an account when cross-provider linking is off', async () => {
      for (let round = 0; round < 15; round++) {
        const userId = await newUser();
        const results = await Promise.allSettled(['corp', 'partner', 'other', 'corp', 'partner', 'other']
          .map((provider, i) => users.linkIfFree(provider, `any-${round}-${i}`, userId, 'any')));
        assert.deepEqual(results.filter((r) => r.status === 'rejected'), []);
        assert.equal((await linksOf(userId)).length, 1, `round ${round}: several identities linked to one account`);
      }
    });
  });

  describe(`migration 0007 on a database that already has an account with two identities of one provider (${backend})`, () => {
    let db: Awaited<ReturnType<typeof emptyStore>>;
    after(async () => { await db?.drop(); });

    it('refuses to migrate and names the rows, keeping every link for the operator to decide', async () => {
      db = await emptyStore(backend);
      const before = Object.fromEntries(Object.entries(MIGRATIONS).filter(([name]) => name < '0007'));
      const migrator = new Migrator({
        db: db.store.db, provider: { getMigrations: async () => before },
        migrationTableName: 'gatehouse_migrations', migrationLockTableName: 'gatehouse_migrations_lock',
      });
      assert.equal((await migrator.migrateToLatest()).error, undefined);
      const users = new IdentityUsersRepo(db.store.db);
      await users.insert({ id: 'usr_dup', username: 'dup', email: 'dup@example.com', roles: [] });
      await users.insert({ id: 'usr_one', username: 'one', email: 'one@example.com', roles: [] });
      await users.link('corp', 'sub-old', 'usr_dup', 1000);
      await users.link('corp', 'sub-new', 'usr_dup', 2000);
      await users.link('partner', 'sub-p', 'usr_dup', 3000);
      await users.link('corp', 'sub-one', 'usr_one', 1000);

      await assert.rejects(db.store.migrate(), (error: any) => {
        assert.match(String(error.detail), /identity_federated_links/);
        assert.match(String(error.detail), /corp/);
        assert.match(String(error.detail), /usr_dup/);
        assert.match(String(error.detail), /sub-old/);
        assert.match(String(error.detail), /sub-new/);
        assert.doesNotMatch(String(error.detail), /sub-one|sub-p\b/);
        return true;
      });
      assert.equal((await db.store.db.selectFrom('identity_federated_links').selectAll().execute()).length, 4, 'no link removed');

      // Once the operator removed the link that is not rightful, the migration runs.
      await db.store.db.deleteFrom('identity_federated_links').where('external_subject', '=', 'sub-new').execute();
      await db.store.migrate();
      assert.equal(await new IdentityUsersRepo(db.store.db).linkIfFree('corp', 'sub-x', 'usr_dup', 'provider'), false);
    });
  });
}
