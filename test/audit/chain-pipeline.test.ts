/**
 * Audit batches one behind the other (src/audit/chain-pipeline.ts): a batch handed in while the
 * one before it is in flight is linked meanwhile and sent only once that one is stored, on the
 * head it left. Attacks on the order: the batch before fails (the one behind must not be stored
 * ahead of it), the head moves under the batch before (the links prepared from the predicted
 * head must not be stored: no fork). And the writer that hands batches in this way stores every
 * event once, in the order appended, counting a failure once. Needs PostgreSQL (the one-message
 * path the pipeline links for); the SQLite case checks that it merely waits there.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUIDv7 } from 'node:crypto';
import fs, { mkdtempSync, rmSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/index.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { GatehouseError } from '../../src/core/errors.ts';
import { appendBatch } from '../../src/audit/chain-batch.ts';
import { ChainPipeline, NOT_SENT_DETAIL } from '../../src/audit/chain-pipeline.ts';
import { inlineCommitter } from '../../src/audit/batch-committer.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import type { AuditDraft, ChainHead } from '../../src/audit/record.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-postgres.ts';
import { accessDraft } from './support/events.ts';

const repo = (store: Store) => createAuditRepo(store.db, store.dialect);
const queued = (drafts: AuditDraft[]) => drafts.map((draft) => ({ draft, canonical: undefined, mayDuplicate: false }));
const drafts = (n: number, from = 0): AuditDraft[] => Array.from({ length: n }, (_, i) => ({ ...accessDraft(from + i), eventId: randomUUIDv7() }));
const count = async (store: Store, chain: string) => Number((await sql<{ n: number }>`select count(*)::int as n from audit_records where chain = ${chain}`.execute(store.db)).rows[0]!.n);
const settledState = (p: Promise<unknown>) => Promise.race([p.then(() => 'resolved', () => 'rejected'), new Promise((r) => setTimeout(() => r('pending'), 150))]);

/** The chain's event ids in seq order, after checking that seqs are 1..n and each record links to the one before. */
async function linkedIds(store: Store, chain: string): Promise<string[]> {
  const records = await repo(store).page(chain, 0, 100_000);
  assert.deepEqual(records.map((r) => r.seq), records.map((_, i) => i + 1), 'no gap, no repeat');
  for (let i = 1; i < records.length; i++) assert.equal(records[i]!.prevHash, records[i - 1]!.hash, `record ${i + 1} links to ${i}`);
  const report = await verifyAudit(store, { trustedKeys: [], chain });
  assert.equal(report.ok, true, JSON.stringify(report.problems));
  return records.map((r) => r.eventId);
}

describe('audit batches pipelined on PostgreSQL', { skip: await serviceOrSkip('postgres') }, () => {
  let database: ScratchDatabase | undefined;
  let store: Store;
  /** A second store: another session, to hold the chain head's row lock. */
  let other: Store;
  let dir: string;

  before(async () => {
    database = await createScratchDatabase('gatehouse_chain_pipeline');
    store = await openStore(database.url, { poolMax: 2 });
    await store.migrate();
    other = await openStore(database.url, { poolMax: 1 });
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-pipeline-'));
  });

  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    try { await store?.close(); await other?.close(); } finally { await database?.drop(); }
  });

  async function started(chain: string, n = 3): Promise<ChainHead> {
    return (await appendBatch(store, chain, queued(drafts(n)), undefined)).head;
  }

  /** Holds the chain head's row lock in another session until the returned release is called. */
  async function holdHead(chain: string): Promise<() => Promise<void>> {
    const locked = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    const done = other.transaction(async (trx) => {
      await sql`select seq from audit_chain_heads where chain = ${chain} for update`.execute(trx);
      locked.resolve();
      await release.promise;
    });
    await locked.promise;
    return async () => { release.resolve(); await done; };
  }

  it('a batch handed in behind one waiting on the database is not stored before it; once it is, both are, in order, linked from one another', async () => {
    const head = await started('p1');
    const release = await holdHead('p1');
    const pipeline = new ChainPipeline(store);
    const first = drafts(40, 100);
    const second = drafts(60, 200);
    const a = pipeline.append('p1', queued(first), head, false);
    const b = pipeline.append('p1', queued(second), undefined, true);
    assert.equal(await settledState(b), 'pending', 'the second waits for the first');
    assert.equal(await count(store, 'p1'), head.seq, 'nothing of either is stored while the first waits');
    await release();
    const [ra, rb] = await Promise.all([a, b]);
    assert.equal(ra.head.seq, head.seq + 40);
    assert.equal(rb.head.seq, head.seq + 100);
    assert.deepEqual(await repo(store).head('p1'), rb.head);
    const ids = await linkedIds(store, 'p1');
    assert.deepEqual(ids.slice(head.seq), [...first, ...second].map((d) => d.eventId));
  });

  it('the batch before fails (an event id already stored): the batch behind it is never sent and fails as not sent; sent again in order, both are stored once', async () => {
    const head = await started('p2');
    const stored = (await repo(store).page('p2', 0, 1))[0]!;
    const pipeline = new ChainPipeline(store);
    const first = drafts(30, 300);
    first[12] = { ...first[12]!, eventId: stored.eventId };
    const second = drafts(30, 400);
    const a = pipeline.append('p2', queued(first), head, false);
    const b = pipeline.append('p2', queued(second), undefined, true);
    await assert.rejects(a, (e: unknown) => e instanceof GatehouseError && e.code === 'ERR_STORE_CONFLICT');
    await assert.rejects(b, (e: unknown) => e instanceof GatehouseError && e.detail === NOT_SENT_DETAIL);
    assert.equal(await count(store, 'p2'), head.seq, 'neither batch wrote anything');
    assert.deepEqual(await repo(store).head('p2'), head);
    first[12] = { ...first[12]!, eventId: randomUUIDv7() };
    const again = pipeline.append('p2', queued(first), head, false);
    const behind = pipeline.append('p2', queued(second), undefined, true);
    assert.equal((await behind).head.seq, head.seq + 60);
    assert.equal((await again).committed, 30);
    assert.deepEqual((await linkedIds(store, 'p2')).slice(head.seq), [...first, ...second].map((d) => d.eventId));
  });

  it('another writer moved the head before the batch before was sent: the links prepared for the batch behind are dropped and both are linked after the other writer\'s records (no fork)', async () => {
    const mine = await started('p3');
    // Another instance appends after what this writer last wrote, which does not know it yet.
    const theirs = await appendBatch(other, 'p3', queued(drafts(5, 700)), undefined);
    const pipeline = new ChainPipeline(store);
    const first = drafts(20, 500);
    const second = drafts(20, 600);
    const a = pipeline.append('p3', queued(first), mine, false);
    const b = pipeline.append('p3', queued(second), undefined, true);
    const [ra, rb] = await Promise.all([a, b]);
    assert.equal(ra.head.seq, theirs.head.seq + 20, 'the first went under the lock, after their records');
    assert.equal(rb.head.seq, theirs.head.seq + 40);
    const ids = await linkedIds(store, 'p3');
    assert.deepEqual(ids.slice(theirs.head.seq), [...first, ...second].map((d) => d.eventId));
  });

  it('SQLite: nothing is linked ahead (the lock path links), the batch behind still waits for the one before and follows it', async () => {
    const sqlite = await openStore('sqlite::memory:');
    try {
      await sqlite.migrate();
      assert.equal(inlineCommitter(sqlite).pipelined, false, 'the writer does not hand batches in ahead on SQLite');
      const pipeline = new ChainPipeline(sqlite);
      const first = drafts(10, 800);
      const second = drafts(10, 900);
      const a = pipeline.append('s', queued(first), undefined, false);
      const b = pipeline.append('s', queued(second), undefined, true);
      assert.equal((await b).head.seq, 20);
      assert.equal((await a).head.seq, 10);
      assert.deepEqual(await linkedIds(sqlite, 's'), [...first, ...second].map((d) => d.eventId));
    } finally {
      await sqlite.close();
    }
  });

  for (const commitThread of [false, true]) it(`a writer on PostgreSQL (${commitThread ? 'on its commit thread' : 'inline'}) under a steady load stores every event once, in the order appended; a batch refused (an id already stored) is counted once, not again for the batch behind it`, async () => {
    const chain = commitThread ? 'w2' : 'w1';
    const head = await started(chain, 1);
    const stored = (await repo(store).page(chain, 0, 1))[0]!;
    assert.equal(inlineCommitter(store).pipelined, true);
    const writer = AuditWriter.open({ store, chain, instance: 't', spoolDir: join(dir, `spool-${chain}`), batchMaxEvents: 100, batchMaxDelayMs: 1, checkpointEveryRecords: 1_000_000, commitThread });
    try {
      // The writer's first batch teaches it the head; the pipeline starts behind it.
      writer.append(drafts(1, 1000)[0]!);
      await writer.flush();
      const release = await holdHead(chain);
      const all = drafts(450, 1100);
      // An id already stored in the first batch handed in while the head is held: it fails with the batch behind it handed in.
      all[30] = { ...all[30]!, eventId: stored.eventId };
      for (const d of all) writer.append(d);
      await new Promise((r) => setTimeout(r, 150));
      await release();
      await writer.flush();
      const s = writer.stats();
      assert.equal(s.failedBatches, 1, 'one batch failed; the one behind it was not sent and is not a second failure');
      assert.equal(s.duplicatesSkipped, 1);
      assert.equal(s.committed, 1 + 449);
      const ids = await linkedIds(store, chain);
      assert.equal(ids.length, head.seq + 1 + 449);
      assert.deepEqual(ids.slice(head.seq + 1), all.filter((_, i) => i !== 30).map((d) => d.eventId), 'in the order appended');
    } finally {
      await writer.close();
    }
  });

  it('the spool cannot start its next segment after a commit (EMFILE): reported as a spool failure, the batch stays committed, flush() does not hang, and the writer stores what follows', async () => {
    const chain = 'w3';
    const writer = AuditWriter.open({ store, chain, instance: 't', spoolDir: join(dir, 'spool-w3'), batchMaxEvents: 400, batchMaxDelayMs: 1, checkpointEveryRecords: 1_000_000 });
    const realOpenSync = fs.openSync;
    try {
      writer.append(drafts(1, 1)[0]!);
      await writer.flush();
      // Over a megabyte of lines, so that once all are committed the spool starts a new segment.
      const first = drafts(2000, 2000);
      for (const d of first) writer.append(d);
      (fs as { openSync: unknown }).openSync = () => { throw Object.assign(new Error('EMFILE: too many open files, open'), { code: 'EMFILE', errno: -24, syscall: 'open' }); };
      syncBuiltinESMExports();
      await writer.flush();
      assert.equal(writer.stats().failedBatches, 0, 'no batch failed: they are all in the store');
      assert.notEqual(writer.stats().spoolFailingSince, undefined, 'the spool is reported failing');
      assert.equal(writer.stats().committed, 2001);
      (fs as { openSync: unknown }).openSync = realOpenSync;
      syncBuiltinESMExports();
      const then = drafts(900, 5000);
      for (const d of then) writer.append(d);
      await writer.flush();
      assert.equal(writer.stats().committed, 2901);
      assert.equal(writer.stats().spoolFailingSince, undefined, 'writable again');
      const ids = await linkedIds(store, chain);
      assert.deepEqual(ids.slice(1), [...first, ...then].map((d) => d.eventId), 'every event once, in the order appended');
    } finally {
      (fs as { openSync: unknown }).openSync = realOpenSync;
      syncBuiltinESMExports();
      await writer.close();
    }
  });
});
