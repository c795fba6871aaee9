/**
 * `COPY … FROM STDIN` through the store (src/store/postgres/copy-in.ts), as the audit log's
 * inserts use it: a COPY the server refuses part way through a large batch fails as a whole
 * with the store's code, leaves no row and no open transaction behind, and the connection it
 * ran on serves the next statement; other statements on the same connections are untouched.
 * Needs PostgreSQL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUIDv7 } from 'node:crypto';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/index.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { GatehouseError } from '../../src/core/errors.ts';
import type { AuditRecord } from '../../src/audit/record.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-postgres.ts';

function record(seq: number, eventId: string = randomUUIDv7()): AuditRecord {
  return {
    chain: 'copy', seq, time: 1_790_000_000_000 + seq, instance: 'gw', event: 'gateway.request', eventId, requestId: `r${seq}`, traceId: null,
    actor: `user-${seq % 7}`, actorKind: 'user', action: 'gateway.request', resource: 'GET /x', outcome: 'success', decisionId: null, reasons: null,
    clientAddress: '192.0.2.1', details: JSON.stringify({ pad: 'x'.repeat(600), seq }), prevHash: '0'.repeat(64), hash: seq.toString(16).padStart(64, '0'),
  };
}

const count = async (store: Store) => Number((await sql<{ n: number }>`select count(*)::int as n from audit_records where chain = 'copy'`.execute(store.db)).rows[0]!.n);

describe('COPY FROM STDIN through the store', { skip: await serviceOrSkip('postgres') }, () => {
  let database: ScratchDatabase | undefined;
  let store: Store;

  before(async () => {
    database = await createScratchDatabase('gatehouse_copy_in');
    // One connection: the statement after a failed COPY runs on the very connection it failed on.
    store = await openStore(database.url, { poolMax: 1 });
    await store.migrate();
  });

  after(async () => {
    try { await store?.close(); } finally { await database?.drop(); }
  });

  it('a COPY of 3,000 rows (~2 MB, one write) refused at its 10th row fails whole with ERR_STORE_CONFLICT, stores nothing, and the connection goes on', async () => {
    const stored = record(1);
    await createAuditRepo(store.db, store.dialect).insertRecords([stored]);
    const batch = Array.from({ length: 3000 }, (_, i) => record(i + 2, i === 9 ? stored.eventId : undefined));
    await assert.rejects(
      store.transaction(async (trx) => createAuditRepo(trx, store.dialect).insertRecords(batch)),
      (error: unknown) => error instanceof GatehouseError && error.code === 'ERR_STORE_CONFLICT',
    );
    assert.equal(await count(store), 1, 'none of the 3,000 rows stored');
    // The same (only) connection: idle, not in an aborted transaction, and a COPY on it works.
    const status = await sql<{ s: string }>`select 'ok' as s`.execute(store.db);
    assert.equal(status.rows[0]!.s, 'ok');
    await store.transaction(async (trx) => createAuditRepo(trx, store.dialect).insertRecords(batch.map((r, i) => (i === 9 ? record(r.seq) : r))));
    assert.equal(await count(store), 3001);
  });

  it('outside a transaction a refused COPY is its own statement: nothing of it stays', async () => {
    const dup = await createAuditRepo(store.db, store.dialect).page('copy', 0, 1);
    const batch = [record(5000), record(5001, dup[0]!.eventId), record(5002)];
    await assert.rejects(createAuditRepo(store.db, store.dialect).insertRecords(batch), (error: unknown) => error instanceof GatehouseError && error.code === 'ERR_STORE_CONFLICT');
    assert.equal((await createAuditRepo(store.db, store.dialect).page('copy', 4999, 10)).length, 0);
  });
});
