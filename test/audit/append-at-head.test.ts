/**
 * The audit log's one-message append on PostgreSQL (AuditRepo.appendAtHead, used by
 * chain-batch.ts when the writer wrote the head last): it writes only when the chain head is
 * still where the writer left it, and otherwise writes nothing at all, so the writer falls back
 * to appending under the head lock; a refused row rolls the whole message back and leaves the
 * connection usable. Also: an append whose remembered head was rewritten behind it is not
 * linked to the rewrite unnoticed. Needs PostgreSQL (SQLite and transactions get false).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUIDv7 } from 'node:crypto';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/index.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { GatehouseError } from '../../src/core/errors.ts';
import { appendBatch } from '../../src/audit/chain-batch.ts';
import { GENESIS_HASH } from '../../src/audit/hash.ts';
import type { AuditDraft, ChainHead } from '../../src/audit/record.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-postgres.ts';
import { accessDraft } from './support/events.ts';

const repo = (store: Store) => createAuditRepo(store.db, store.dialect);
const queued = (drafts: AuditDraft[]) => drafts.map((draft) => ({ draft, canonical: undefined, mayDuplicate: false }));
const drafts = (n: number, from = 0): AuditDraft[] => Array.from({ length: n }, (_, i) => ({ ...accessDraft(from + i), eventId: randomUUIDv7() }));
const count = async (store: Store, chain: string) => Number((await sql<{ n: number }>`select count(*)::int as n from audit_records where chain = ${chain}`.execute(store.db)).rows[0]!.n);

describe('audit append as one message on PostgreSQL', { skip: await serviceOrSkip('postgres') }, () => {
  let database: ScratchDatabase | undefined;
  let store: Store;

  before(async () => {
    database = await createScratchDatabase('gatehouse_append_at_head');
    // One connection: what a failed message leaves on it, the next statement meets.
    store = await openStore(database.url, { poolMax: 1 });
    await store.migrate();
  });

  after(async () => {
    try { await store?.close(); } finally { await database?.drop(); }
  });

  /** A chain of `n` records written under the lock (the writer's first batch); its head. */
  async function started(chain: string, n = 3): Promise<ChainHead> {
    return (await appendBatch(store, chain, queued(drafts(n)), undefined)).head;
  }

  it('extends the chain from the head it was given, in one message, and moves the head', async () => {
    const first = await started('a');
    const next = await appendBatch(store, 'a', queued(drafts(5, 3)), first);
    assert.equal(next.committed, 5);
    assert.deepEqual(await repo(store).head('a'), next.head);
    const records = await repo(store).page('a', 0, 100);
    assert.deepEqual(records.map((r) => r.seq), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(records[3]!.prevHash, first.hash);
  });

  it('a head another writer moved meanwhile: nothing is written by the message, the batch is appended under the lock after the other writer\'s records (no fork)', async () => {
    const mine = await started('b');
    const theirs = await appendBatch(store, 'b', queued(drafts(2, 10)), mine);
    const to: ChainHead = { chain: 'b', seq: mine.seq + 1, hash: 'f'.repeat(64) };
    const ours = (await repo(store).page('b', 0, 1))[0]!;
    assert.equal(await repo(store).appendAtHead(mine, to, [{ ...ours, seq: to.seq, eventId: randomUUIDv7(), prevHash: mine.hash, hash: to.hash }], Date.now()), false);
    assert.equal(await count(store, 'b'), theirs.head.seq, 'the refused message wrote no record');
    assert.deepEqual(await repo(store).head('b'), theirs.head, 'and left the head alone');
    const after = await appendBatch(store, 'b', queued(drafts(4, 20)), mine);
    assert.equal(after.head.seq, theirs.head.seq + 4);
    const records = await repo(store).page('b', 0, 100);
    assert.deepEqual(records.map((r) => r.seq), records.map((_, i) => i + 1));
    for (let i = 1; i < records.length; i++) assert.equal(records[i]!.prevHash, records[i - 1]!.hash, `record ${i + 1} links to ${i}`);
  });

  it('a head rewritten behind the writer (same seq, other hash): the message writes nothing and the append under the lock reports the overwrite', async () => {
    const mine = await started('c');
    await sql`update audit_chain_heads set hash = ${'e'.repeat(64)} where chain = 'c'`.execute(store.db);
    const result = await appendBatch(store, 'c', queued(drafts(2, 30)), mine);
    assert.deepEqual(result.overwritten, mine, 'the writer learns that what it wrote is no longer the chain');
  });

  it('a head row deleted behind the writer: the message writes nothing (no head appears out of its records)', async () => {
    const mine = await started('d');
    await sql`delete from audit_chain_heads where chain = 'd'`.execute(store.db);
    const to: ChainHead = { chain: 'd', seq: mine.seq + 1, hash: 'a'.repeat(64) };
    const template = (await repo(store).page('d', 0, 1))[0]!;
    assert.equal(await repo(store).appendAtHead(mine, to, [{ ...template, seq: to.seq, eventId: randomUUIDv7(), prevHash: mine.hash, hash: to.hash }], Date.now()), false);
    assert.equal(await count(store, 'd'), mine.seq);
    assert.equal(await repo(store).head('d'), undefined);
  });

  it('a row the server refuses (an event id already stored) rolls the whole message back, head included, and the connection goes on', async () => {
    const mine = await started('e');
    const stored = (await repo(store).page('e', 0, 1))[0]!;
    const batch = drafts(1500, 40);
    batch[700] = { ...batch[700]!, eventId: stored.eventId };
    await assert.rejects(appendBatch(store, 'e', queued(batch), mine), (error: unknown) => error instanceof GatehouseError && error.code === 'ERR_STORE_CONFLICT');
    assert.equal(await count(store, 'e'), mine.seq);
    assert.deepEqual(await repo(store).head('e'), mine);
    // The only connection is idle again: no transaction left open on it.
    assert.equal((await sql<{ s: string }>`select 'ok' as s`.execute(store.db)).rows[0]!.s, 'ok');
    batch[700] = { ...batch[700]!, eventId: randomUUIDv7() };
    assert.equal((await appendBatch(store, 'e', queued(batch), mine)).committed, 1500);
  });

  it('inside a transaction, and on SQLite, there is no one-message append: false, nothing written', async () => {
    const mine = await started('f');
    const template = (await repo(store).page('f', 0, 1))[0]!;
    const to: ChainHead = { chain: 'f', seq: mine.seq + 1, hash: 'b'.repeat(64) };
    const record = { ...template, seq: to.seq, eventId: randomUUIDv7(), prevHash: mine.hash, hash: to.hash };
    assert.equal(await store.transaction((trx) => createAuditRepo(trx, store.dialect).appendAtHead(mine, to, [record], Date.now())), false);
    const sqlite = await openStore('sqlite::memory:');
    try {
      await sqlite.migrate();
      assert.equal(await repo(sqlite).appendAtHead({ chain: 'f', seq: 0, hash: GENESIS_HASH }, to, [record], Date.now()), false);
    } finally {
      await sqlite.close();
    }
    assert.equal(await count(store, 'f'), mine.seq);
  });
});
