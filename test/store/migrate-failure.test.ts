/**
 * A migration run that fails part-way: one transaction on both backends, so nothing of it
 * stays (no table, no recorded migration), and the log does not say otherwise.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/index.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-postgres.ts';

const pgSkip = await serviceOrSkip('postgres');

interface Backend { name: string; skip: false | string; url(): Promise<string>; cleanup(): Promise<void> }

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-migrate-'));
let database: ScratchDatabase | undefined;
const backends: Backend[] = [
  { name: 'sqlite', skip: false, url: async () => `sqlite:${join(dir, 'store.db')}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) },
  {
    name: 'postgres',
    skip: pgSkip,
    async url() {
      database = await createScratchDatabase('gatehouse_store_test');
      return database.url;
    },
    async cleanup() { await database?.drop(); },
  },
];

for (const backend of backends) {
  describe(`a failing migration run (${backend.name})`, { skip: backend.skip }, () => {
    let store: Store | undefined;
    after(async () => {
      try { await store?.close(); } finally { await backend.cleanup(); }
    });

    it('leaves no table and no recorded migration behind, and logs none of the rolled-back migrations as applied', async () => {
      const lines: { msg: string; level: number; migration?: string }[] = [];
      const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line)); } });
      store = await openStore(await backend.url(), { logger });
      // A table of migration 0004 already there (made by hand): 0001-0003 run, then 0004 fails.
      await sql`create table audit_records (squatter text)`.execute(store.db);
      await assert.rejects(store.migrate());
      const tables = (await store.db.introspection.getTables()).map((t) => t.name);
      assert.ok(!tables.includes('kv_records') && !tables.includes('identity_users'), `tables left behind: ${tables.join(', ')}`);
      const recorded = await sql<{ name: string }>`select name from gatehouse_migrations`.execute(store.db);
      assert.deepEqual(recorded.rows, []);
      assert.deepEqual(lines.filter((l) => l.msg === 'store: migration applied').map((l) => l.migration), []);
      const rolledBack = lines.filter((l) => l.msg.includes('rolled back')).map((l) => l.migration);
      assert.deepEqual(rolledBack, ['0001-store-kv-records', '0002-identity-accounts', '0003-pki-ca']);
    });
  });
}
