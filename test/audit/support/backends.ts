/**
 * Store backends for the audit and detection suites: SQLite (a file in a temporary
 * directory) and PostgreSQL (a scratch database, dropped afterwards).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../../src/store/index.ts';
import { serviceOrSkip } from '../../support/services.ts';
import { createScratchDatabase } from '../../support/scratch-postgres.ts';

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
      const database = await createScratchDatabase('gatehouse_audit_test');
      const url = database.url;
      const dir = await mkdtemp(join(tmpdir(), 'gatehouse-audit-'));
      return {
        url, dir,
        async open() { const s = await openStore(url, { poolMax: 4 }); await s.migrate(); return s; },
        async drop() {
          try { await database.drop(); } finally { await rm(dir, { recursive: true, force: true }); }
        },
      };
    },
  };
}

/** Both backends, for `for (const b of await backends())` suites. */
export async function backends(): Promise<AuditBackend[]> {
  return [sqliteBackend, await postgresBackend()];
}
