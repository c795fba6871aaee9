/**
 * Store backends for the audit and detection suites: SQLite (a file in a temporary
 * directory) and PostgreSQL (a randomly named database, dropped afterwards).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, type Store } from '../../../src/store/index.ts';
import { POSTGRES_URL, serviceOrSkip } from '../../support/services.ts';

export interface TestDatabase {
  /** URL any process can open. */
  url: string;
  /** A scratch directory next to it (spool, keys). */
  dir: string;
  open(): Promise<Store>;
  drop(): Promise<void>;
}

export interface AuditBackend {
  name: 'sqlite' | 'postgres';
  /** false, or why the suite is skipped. */
  skip: false | string;
  create(): Promise<TestDatabase>;
}

async function adminQuery(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try { await client.query(statement); } finally { await client.end(); }
}

export const sqliteBackend: AuditBackend = {
  name: 'sqlite',
  skip: false,
  async create() {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-audit-'));
    const url = `sqlite:${join(dir, 'gatehouse.db')}`;
    return {
      url, dir,
      async open() { const s = await openStore(url); await s.migrate(); return s; },
      drop: () => rm(dir, { recursive: true, force: true }),
    };
  },
};

export async function postgresBackend(): Promise<AuditBackend> {
  return {
    name: 'postgres',
    skip: await serviceOrSkip('postgres'),
    async create() {
      const name = `gatehouse_audit_test_${randomBytes(8).toString('hex')}`;
      await adminQuery(`create database ${pg.escapeIdentifier(name)}`);
      const u = new URL(POSTGRES_URL);
      u.pathname = `/${name}`;
      const url = u.toString();
      const dir = await mkdtemp(join(tmpdir(), 'gatehouse-audit-'));
      return {
        url, dir,
        async open() { const s = await openStore(url, { poolMax: 4 }); await s.migrate(); return s; },
        async drop() {
          await adminQuery(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

/** Both backends, for `for (const b of await backends())` suites. */
export async function backends(): Promise<AuditBackend[]> {
  return [sqliteBackend, await postgresBackend()];
}
