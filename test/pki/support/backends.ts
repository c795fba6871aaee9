/**
 * The PKI repository backends the suites run on: memory, SQLite (a file store) and
 * PostgreSQL (a scratch database, dropped afterwards).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryPkiRepository } from '../../../src/pki/memory-repository.ts';
import type { PkiRepository } from '../../../src/pki/repository.ts';
import { openStore, type Store } from '../../../src/store/index.ts';
import { createPkiRepo } from '../../../src/store/repos/pki-repo.ts';
import { createScratchDatabase } from '../../support/scratch-postgres.ts';

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
  const close = async () => {
    try { for (const s of stores) await s.close(); } finally { await cleanup(); }
  };
  try {
    return { repo: await openOne(), another: openOne, close };
  } catch (error) {
    await close();
    throw error;
  }
}

export const sqliteBackend: PkiBackend = {
  name: 'sqlite',
  async create() {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-pki-store-'));
    return storeBackend(() => openStore(`sqlite:${join(dir, 'gatehouse.db')}`), () => rm(dir, { recursive: true, force: true }));
  },
};

export const postgresBackend: PkiBackend = {
  name: 'postgres',
  async create() {
    const database = await createScratchDatabase('gatehouse_pki_test');
    return storeBackend(() => openStore(database.url, { poolMax: 4 }), () => database.drop());
  },
};
