/**
 * Real stores for the authn tests: a SQLite file in a temporary directory, or a freshly
 * created, randomly named PostgreSQL database that is dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Migrator } from 'kysely';
import pg from 'pg';
import { MIGRATIONS } from '../../../src/store/migrations/index.ts';
import { openStore } from '../../../src/store/open-store.ts';
import type { Store } from '../../../src/store/types.ts';
import { POSTGRES_URL } from '../../support/services.ts';

export type Backend = 'sqlite' | 'postgres';

export interface TestDatabase {
  /** Opens one more instance on the same database (as another gateway process would). */
  open(): Promise<Store>;
  drop(): Promise<void>;
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try { await client.query(sql); } finally { await client.end(); }
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
  const name = `gh_authn_${randomBytes(6).toString('hex')}`;
  await admin(`create database ${pg.escapeIdentifier(name)}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  const first = await openStore(url.href, { poolMax: 4 });
  await migrate(first, options.upTo);
  await first.close();
  return {
    open: () => openStore(url.href, { poolMax: 4 }),
    drop: () => admin(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`),
  };
}
