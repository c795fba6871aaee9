/**
 * Migration 0010 gives pki_certificates its renewal lineage column on both SQL backends,
 * indexed for the walk from a revoked serial to the certificates renewed from it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/index.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createScratchDatabase } from '../support/scratch-postgres.ts';

/** Stores a parent and its renewal through the new column, and finds the child by it. */
async function checkLineageColumn(store: Store): Promise<void> {
  await store.migrate();
  for (const [serial, parent] of [['a1', null], ['b2', 'a1'], ['c3', null]] as const) {
    await sql`insert into pki_certificates (serial, spiffe_id, dns_names, ip_addresses, not_before, not_after, cert_pem, issued_via, created_at, renewed_from)
      values (${serial}, 'spiffe://td/svc/a', '[]', '[]', 0, 1, 'pem', 'renewal', 0, ${parent})`.execute(store.db);
  }
  const children = await sql<{ serial: string }>`select serial from pki_certificates where renewed_from = ${'a1'}`.execute(store.db);
  assert.deepEqual(children.rows.map((r) => r.serial), ['b2']);
}

const postgresSkip = await serviceOrSkip('postgres');

describe('migration 0010-pki-certificates-renewed-from', () => {
  it('adds renewed_from to pki_certificates on SQLite', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-pki-lineage-'));
    const store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    try { await checkLineageColumn(store); } finally { await store.close(); await rm(dir, { recursive: true, force: true }); }
  });

  it('adds renewed_from to pki_certificates on PostgreSQL', { skip: postgresSkip }, async () => {
    const database = await createScratchDatabase('gatehouse_pki_lineage');
    try {
      const store = await openStore(database.url, { poolMax: 2 });
      try { await checkLineageColumn(store); } finally { await store.close(); }
    } finally {
      await database.drop();
    }
  });
});
