/**
 * The PKI repository backends the suites run on: memory, SQLite (a file store) and
 * PostgreSQL (a randomly named database, dropped afterwards).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { MemoryPkiRepository } from '../../../src/pki/memory-repository.ts';
import type { PkiRepository } from '../../../src/pki/repository.ts';
import { openStore, type Store } from '../../../src/store/index.ts';
import { createPkiRepo } from '../../../src/store/repos/pki-repo.ts';
import { POSTGRES_URL } from '../../support/services.ts';

export interface PkiBackend {
  name: string;
  /** A fresh, empty repository plus a way to open more instances on the same data. */
  create(): Promise<{ repo: PkiRepository; another: () => Promise<PkiRepository>; close: () => Promise<void> }>;
}

export const memoryBackend: PkiBackend = {
  name: 'memory',
  async create() {
    const repo = new MemoryPkiRepository();
    return { repo, another: async () => repo, close: async () => {} };
  },
};

async function storeBackend(open: () => Promise<Store>, cleanup: () => Promise<void>) {
  const stores: Store[] = [];
  const openOne = async () => { const s = await open(); stores.push(s); await s.migrate(); return createPkiRepo(s.db); };
  const repo = await openOne();
  return {
    repo,
    another: openOne,
    close: async () => { for (const s of stores) await s.close(); await cleanup(); },
  };
}

export const sqliteBackend: PkiBackend = {
  name: 'sqlite',
  async create() {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-pki-store-'));
    return storeBackend(() => openStore(`sqlite:${join(dir, 'gatehouse.db')}`), () => rm(dir, { recursive: true, force: true }));
  },
};

async function adminQuery(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try { await client.query(statement); } finally { await client.end(); }
}

export const postgresBackend: PkiBackend = {
  name: 'postgres',
  async create() {
    const name = `gatehouse_pki_test_${randomBytes(8).toString('hex')}`;
    await adminQuery(`create database ${pg.escapeIdentifier(name)}`);
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${name}`;
    return storeBackend(() => openStore(url.toString(), { poolMax: 4 }), () => adminQuery(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`));
  },
};
