/**
 * Real stores for the authn tests: a SQLite file in a temporary directory, or a scratch
 * PostgreSQL database (test/support/scratch-postgres.ts) that is dropped afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Migrator } from 'kysely';
import { MIGRATIONS } from '../../../src/store/migrations/index.ts';
import { openStore } from '../../../src/store/open-store.ts';
import type { Store } from '../../../src/store/types.ts';
import { createScratchDatabase } from '../../support/scratch-postgres.ts';

export type Backend = 'sqlite' | 'postgres';

export interface TestDatabase {
  /** Opens one more instance on the same database (as another gateway process would). */
  open(): Promise<Store>;
  drop(): Promise<void>;
}

/**
 * Migrates `store` only up to `upTo` (a migration's name), with the store's own migration
 * tables, so that a later `store.migrate()` applies the rest as an upgrade would.
 */
async function migrate(store: Store, upTo: string | undefined): Promise<void> {
  if (upTo === undefined) { await store.migrate(); return; }
  const migrator = new Migrator({ db: store.db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) }, migrationTableName: 'gatehouse_migrations', migrationLockTableName: 'gatehouse_migrations_lock' });
  const { error } = await migrator.migrateTo(upTo);
  if (error !== undefined) throw error;
}

/** A new, empty database of `backend`, migrated to the latest migration or only `options.upTo`. */
export async function createTestDatabase(backend: Backend, options: { upTo?: string } = {}): Promise<TestDatabase> {
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-authn-db-'));
    const url = `sqlite:${join(dir, 'gatehouse.db')}`;
    const first = await openStore(url);
    await migrate(first, options.upTo);
    await first.close();
    return { open: () => openStore(url), drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const database = await createScratchDatabase('gh_authn');
  try {
    const first = await openStore(database.url, { poolMax: 4 });
    try { await migrate(first, options.upTo); } finally { await first.close(); }
  } catch (error) {
    await database.drop();
    throw error;
  }
  return { open: () => openStore(database.url, { poolMax: 4 }), drop: () => database.drop() };
}
