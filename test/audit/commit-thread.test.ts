/**
 * The audit writer's batches committed on a worker thread (src/audit/commit-thread.ts): the
 * records are the ones an inline commit writes, store errors keep their codes across the
 * thread, a thread that dies mid-batch loses nothing and duplicates nothing, SQLite writes of
 * the main thread wait for the thread's transactions instead of failing, and the thread
 * neither keeps a finished process alive nor lets it exit before a close is done.
 * The writer's failure handling with a commit thread runs in store-failures.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { appendBatch, type BatchDraft } from '../../src/audit/chain-batch.ts';
import { COMMIT_THREAD_NAME, commitThreadFor } from '../../src/audit/commit-thread.ts';
import { canonicalDraftJson, GENESIS_HASH } from '../../src/audit/hash.ts';
import type { AuditDraft } from '../../src/audit/record.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { isGatehouseError } from '../../src/core/errors.ts';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/index.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { createKvRepo } from '../../src/store/repos/kv-repo.ts';
import { backends, postgresBackend, sqliteBackend } from './support/backends.ts';
import { accessDraft } from './support/events.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';
import { captureLogger } from '../support/gateway.ts';

const run = promisify(execFile);

/** A trigger that makes every insert into audit_records fail (and so every batch). */
async function refuseInserts(store: Store): Promise<void> {
  if (store.dialect === 'sqlite') {
    await sql`create trigger audit_refuse_all before insert on audit_records begin select raise(abort, 'refused'); end`.execute(store.db);
  } else {
    await sql`create or replace function audit_refuse_all() returns trigger language plpgsql as $$ begin raise exception 'refused'; end $$`.execute(store.db);
    await sql`create trigger audit_refuse_all before insert on audit_records for each row execute function audit_refuse_all()`.execute(store.db);
  }
}

async function allowInserts(store: Store): Promise<void> {
  await sql`drop trigger audit_refuse_all ${store.dialect === 'postgres' ? sql`on audit_records` : sql``}`.execute(store.db);
  if (store.dialect === 'postgres') await sql`drop function audit_refuse_all()`.execute(store.db);
}
const node = join(import.meta.dirname, '../../node_modules/.bin/node');

/** Threads of this process named like the commit thread. */
function commitThreads(): number {
  let n = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try { if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === COMMIT_THREAD_NAME) n += 1; } catch { /* the thread ended */ }
  }
  return n;
}

function batchOf(drafts: AuditDraft[], mayDuplicate = false): BatchDraft[] {
  return drafts.map((draft) => ({ draft, canonical: canonicalDraftJson(draft), mayDuplicate }));
}

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(isGatehouseError(err), `a GatehouseError, not ${String(err)}`);
    return err.code;
  }
  assert.fail('expected the commit to fail');
}

for (const backend of await backends()) {
  describe(`audit commit thread on ${backend.name}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend);

    it('stores the records an inline commit stores: same rows, same hashes, whether a draft comes with its text, without it, or as its text only', async () => {
      const drafts = Array.from({ length: 41 }, (_, i) => accessDraft(i, { path: `/inbox/${i}?q="quoted"\u00e9` }));
      const other = await backend.create();
      const inlineStore = await other.open();
      const thread = commitThreadFor(env.store.connectionSpec())!;
      try {
        // As the writer queues them: with draft and text, the draft only (behind a long queue), the text only (an access record with a commit thread).
        const mixed = (d: AuditDraft, i: number): BatchDraft => [
          { draft: d, canonical: canonicalDraftJson(d), mayDuplicate: false },
          { draft: d, canonical: undefined, mayDuplicate: false },
          { draft: undefined, canonical: canonicalDraftJson(d)!, mayDuplicate: false },
        ][i % 3]!;
        const viaThread = await thread.commit('same', drafts.map(mixed), undefined);
        // The inline commit takes the same three forms.
        const inline = await appendBatch(inlineStore, 'same', drafts.map((d, i) => mixed(d, i + 1)), undefined);
        assert.deepEqual(viaThread, inline);
        const rows = await createAuditRepo(env.store.db, env.store.dialect).page('same', 0, 1000);
        assert.deepEqual(rows, await createAuditRepo(inlineStore.db, inlineStore.dialect).page('same', 0, 1000));
        assert.equal(rows.length, 41);
        assert.equal((await verifyAudit(env.store, { trustedKeys: [], chain: 'same' })).ok, true);
      } finally {
        await thread.close();
        await inlineStore.close();
        await other.drop();
      }
    });

    it('a duplicate event id not flagged as one fails the batch with ERR_STORE_CONFLICT across the thread, and nothing of it is stored; flagged, it is skipped', async () => {
      const thread = commitThreadFor(env.store.connectionSpec())!;
      try {
        const first = await thread.commit('dup', batchOf([accessDraft(1), accessDraft(2)]), undefined);
        const again = accessDraft(3, {});
        const replayed = { ...accessDraft(1), eventId: (await createAuditRepo(env.store.db, env.store.dialect).page('dup', 0, 1))[0]!.eventId };
        assert.equal(await rejection(thread.commit('dup', batchOf([again, replayed]), first.head)), 'ERR_STORE_CONFLICT');
        assert.deepEqual(await createAuditRepo(env.store.db, env.store.dialect).head('dup'), first.head, 'the failed batch left the head where it was');
        const retried = await thread.commit('dup', batchOf([again, replayed], true), first.head);
        assert.equal(retried.committed, 1);
        assert.equal(retried.skipped, 1);
        assert.equal(retried.head.seq, 3);
      } finally {
        await thread.close();
      }
    });

    it('a commit thread terminated in the middle of its batch fails that batch with ERR_STORE_UNAVAILABLE; the retry runs on a new thread and stores each record once', async () => {
      const thread = commitThreadFor(env.store.connectionSpec())!;
      try {
        await thread.commit('killed', batchOf([accessDraft(0)]), undefined);
        const drafts = Array.from({ length: 2000 }, (_, i) => accessDraft(i + 1));
        const pending = thread.commit('killed', batchOf(drafts), undefined);
        const dying = thread.worker!;
        await dying.terminate();
        assert.equal(await rejection(pending), 'ERR_STORE_UNAVAILABLE');
        // Whether the killed transaction committed is unknown to the writer: it retries with every id checked.
        const retried = await thread.commit('killed', batchOf(drafts, true), undefined);
        assert.notEqual(thread.worker, dying, 'a new thread');
        assert.equal(retried.committed + retried.skipped, 2000);
        assert.equal(retried.head.seq, 2001);
        assert.equal((await verifyAudit(env.store, { trustedKeys: [], chain: 'killed' })).ok, true);
      } finally {
        await thread.close();
      }
    });

    it('a commit thread that dies after its batch committed, before its answer arrives: the batch fails with ERR_STORE_UNAVAILABLE, the writer\'s retry (ids unchecked) is refused with ERR_STORE_CONFLICT, and with every id checked nothing is stored twice', async () => {
      const thread = commitThreadFor(env.store.connectionSpec())!;
      try {
        const first = await thread.commit('lost', batchOf([accessDraft(0)]), undefined);
        const drafts = Array.from({ length: 200 }, (_, i) => accessDraft(i + 1));
        // The thread's answer is taken away from it and the thread killed as it arrives: the
        // transaction is committed, the writer never hears so (the case the test above, whose
        // thread dies before its COMMIT, does not reach).
        const dying = thread.worker!;
        dying.removeAllListeners('message');
        dying.once('message', () => { void dying.terminate(); });
        assert.equal(await rejection(thread.commit('lost', batchOf(drafts), first.head)), 'ERR_STORE_UNAVAILABLE');
        assert.equal((await createAuditRepo(env.store.db, env.store.dialect).head('lost'))?.seq, 201, 'the lost batch did commit');
        // As the writer retries it: ids unchecked first, every id checked after the conflict.
        assert.equal(await rejection(thread.commit('lost', batchOf(drafts), first.head)), 'ERR_STORE_CONFLICT');
        const retried = await thread.commit('lost', batchOf(drafts, true), first.head);
        assert.deepEqual([retried.committed, retried.skipped, retried.head.seq, retried.overwritten], [0, 200, 201, undefined]);
        assert.equal((await verifyAudit(env.store, { trustedKeys: [], chain: 'lost' })).ok, true);
      } finally {
        await thread.close();
      }
    });

    it('once closed, its thread has exited and a commit fails with ERR_STORE_UNAVAILABLE', async () => {
      const thread = commitThreadFor(env.store.connectionSpec())!;
      await thread.commit('closed', batchOf([accessDraft(0)]), undefined);
      const worker = thread.worker!;
      let exited = false;
      worker.once('exit', () => { exited = true; });
      await thread.close();
      assert.equal(exited, true);
      assert.equal(await rejection(thread.commit('closed', batchOf([accessDraft(1)]), undefined)), 'ERR_STORE_UNAVAILABLE');
    });

    it('the writer with commitThread commits on a thread named audit-commit, which is gone after close()', async () => {
      const before = commitThreads();
      const writer = AuditWriter.open({ store: env.store, chain: 'named', instance: 't', spoolDir: join(env.db.dir, 'spool-named'), fsync: false, commitThread: true });
      for (let i = 0; i < 100; i++) writer.append(accessDraft(i));
      await writer.flush();
      assert.equal(commitThreads(), before + 1);
      await writer.close();
      assert.equal(commitThreads(), before);
      assert.equal(writer.stats().committed, 100);
      assert.equal((await createAuditRepo(env.store.db, env.store.dialect).head('named'))?.seq, 100);
    });

    for (const how of ['appendAccess', 'append'] as const) it(`${how === 'append' ? 'events appended one by one (the bus\'s path)' : 'access records'} queued far beyond the text-keeping bound while the store refuses writes are all stored, once each and as appended, when it accepts them again`, async () => {
      const chain = `backlog-${how}`;
      const drafts: AuditDraft[] = [];
      const writer = AuditWriter.open({ store: env.store, chain, instance: 't', spoolDir: join(env.db.dir, 'spool-backlog'), fsync: false, batchMaxEvents: 50, commitThread: true });
      const hold = { released: 0, cork() {}, uncork() { this.released += 1; } };
      await refuseInserts(env.store);
      try {
        // 1,000 records: beyond KEEP_TEXT_BATCHES × batchMaxEvents (200), where an inline writer keeps drafts instead of texts.
        for (let i = 0; i < 1000; i++) {
          // Text that JSON escapes (quotes, a backslash, a tab, non-ASCII): queued as text only, parsed back on the thread.
          const draft = accessDraft(i, { path: `/inbox/${i}/"q"\\\tß€😀` });
          drafts.push(draft);
          if (how === 'append') writer.append(draft);
          else writer.appendAccess({ draft, canonical: canonicalDraftJson(draft) }, hold);
          if (i % 100 === 99) await new Promise((r) => setImmediate(r));
        }
        const deadline = Date.now() + 5000;
        while (writer.stats().failedBatches < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.ok(writer.stats().failedBatches >= 2, 'the store refused the batches');
        assert.equal(writer.stats().queued, 1000);
      } finally {
        await allowInserts(env.store);
      }
      await writer.flush();
      await writer.close();
      assert.equal(hold.released, how === 'append' ? 0 : 1000, 'every held response was released');
      const repo = createAuditRepo(env.store.db, env.store.dialect);
      assert.equal((await repo.head(chain))?.seq, 1000);
      const stored = await repo.page(chain, 0, 2000);
      assert.deepEqual(stored.map((r) => ({ eventId: r.eventId, details: r.details, time: r.time })), drafts.map((d) => ({ eventId: d.eventId, details: d.details, time: d.time })));
      assert.equal((await verifyAudit(env.store, { trustedKeys: [], chain })).ok, true);
    });

    for (const how of ['close', 'leave'] as const) {
      it(how === 'close'
        ? 'a script that closes its writer and store runs to its end (the closing thread keeps the process alive until it is done)'
        : 'a script that does not close its writer still exits on its own (an idle commit thread keeps nothing alive)', async () => {
        const { stdout } = await run(node, [join(import.meta.dirname, 'fixtures/commit-thread-exit.ts'), env.db.url, join(env.db.dir, `spool-exit-${how}`), how], { timeout: 30_000 });
        assert.equal(stdout, how === 'close' ? 'flushed 50\nclosed\n' : 'flushed 50\n');
      });
    }
  });
}

describe('audit commit thread on SQLite: one file, two connections', () => {
  const env = useAuditBackend(sqliteBackend);

  it('writes of the main thread to the same file while the thread commits a large batch wait for the lock instead of failing (no SQLITE_BUSY)', async () => {
    const thread = commitThreadFor(env.store.connectionSpec())!;
    const kv = createKvRepo(env.store.db);
    try {
      // One transaction of 30,000 records holds the write lock for a long while (hundreds of ms).
      let done = false;
      const commit = thread.commit('busy', batchOf(Array.from({ length: 30_000 }, (_, i) => accessDraft(i))), undefined).finally(() => { done = true; });
      const waits: number[] = [];
      for (let k = 0; !done; k++) {
        const started = performance.now();
        await kv.upsert('Test', `k-${k}`, { k }, 60);
        waits.push(performance.now() - started);
        // node:sqlite answers within microtasks: without a turn of the event loop the thread's answer would never be read.
        await new Promise((r) => setImmediate(r));
      }
      assert.equal((await commit).head.seq, 30_000);
      // At least one write met the batch's lock and waited for it (an uncontended upsert takes well under a millisecond).
      assert.ok(Math.max(...waits) >= 20, `a main-thread write waited for the thread's transaction (longest ${Math.max(...waits).toFixed(1)} ms of ${waits.length})`);
      assert.deepEqual((await kv.find('Test', `k-${waits.length - 1}`))?.payload, { k: waits.length - 1 });
    } finally {
      await thread.close();
    }
  });

  it('a draft that cannot be copied to the thread fails its batch with ERR_INTERNAL at once instead of waiting forever; the thread goes on with the next batch', async () => {
    const thread = commitThreadFor(env.store.connectionSpec())!;
    try {
      await thread.commit('uncloneable', batchOf([accessDraft(0)]), undefined);
      // No canonical form (details is not a string), so the draft itself would be cloned: a function cannot be.
      const poisoned = { draft: { ...accessDraft(1), details: (() => 'x') as unknown as string }, canonical: undefined, mayDuplicate: false };
      assert.equal(await rejection(thread.commit('uncloneable', [poisoned], undefined)), 'ERR_INTERNAL');
      assert.equal((await thread.commit('uncloneable', batchOf([accessDraft(2)]), undefined)).head.seq, 2);
    } finally {
      await thread.close();
    }
  });

  it('the late exit of a thread that already failed does not fail the batch its replacement is committing', async () => {
    const thread = commitThreadFor(env.store.connectionSpec())!;
    try {
      await thread.commit('replaced', batchOf([accessDraft(0)]), undefined);
      const old = thread.worker!;
      // The order Node can deliver: the old thread's 'error' first, its 'exit' only after the next batch went to a new thread.
      old.emit('error', new Error('boom'));
      const next = thread.commit('replaced', batchOf(Array.from({ length: 200 }, (_, i) => accessDraft(i + 1))), undefined);
      assert.notEqual(thread.worker, old);
      await old.terminate();
      assert.equal((await next).head.seq, 201);
    } finally {
      await thread.close();
    }
  });

  it('runs the actor index on the thread, and its warning (inserts refused) reaches the writer\'s log naming the thread', async () => {
    const { logger, capture } = captureLogger();
    const chain = 'index-refused';
    await sql`create trigger actor_refuse before insert on audit_actor_index begin select raise(abort, 'refused'); end`.execute(env.store.db);
    const writer = AuditWriter.open({ store: env.store, chain, instance: 't', spoolDir: join(env.db.dir, `spool-${chain}`), fsync: false, commitThread: true, actorIndexEvery: 5, logger });
    try {
      for (let i = 0; i < 12; i++) writer.append(accessDraft(i));
      await writer.flush();
      const deadline = Date.now() + 10_000;
      const warned = () => capture.lines.find((l) => l.thread === COMMIT_THREAD_NAME && String(l.msg).includes('actor index could not be brought up to date'));
      while (!warned() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const line = warned();
      assert.ok(line, `the thread's warning was logged: ${JSON.stringify(capture.lines)}`);
      assert.equal(line.chain, chain);
      assert.equal(line.level, 40, 'at warn level');
      assert.equal(await createAuditRepo(env.store.db, env.store.dialect).actorIndexedSeq(chain), 0, 'nothing indexed');
    } finally {
      await writer.close(1_000);
      await sql`drop trigger actor_refuse`.execute(env.store.db);
    }
  });

  it('an in-memory store has no commit thread: commitThreadFor answers undefined, and a writer asked for one commits inline', async () => {
    assert.equal(commitThreadFor({ url: 'sqlite::memory:', options: {} }), undefined);
    const store = await openStore('sqlite::memory:');
    await store.migrate();
    const before = commitThreads();
    const writer = AuditWriter.open({ store, chain: 'mem', instance: 't', spoolDir: join(env.db.dir, 'spool-mem'), fsync: false, commitThread: true });
    try {
      for (let i = 0; i < 10; i++) writer.append(accessDraft(i));
      await writer.flush();
      assert.equal(commitThreads(), before);
      assert.equal((await createAuditRepo(store.db, store.dialect).head('mem'))?.seq, 10);
    } finally {
      await writer.close();
      await store.close();
    }
  });

});

const pg = await postgresBackend();

describe('audit commit thread on PostgreSQL: a batch that cannot finish', { skip: pg.skip }, () => {
  const env = useAuditBackend(pg);

  it('writer.close(timeout) returns near its deadline while the thread\'s batch waits for a chain head another session holds; the batch stays in the spool and the next writer stores each record once', async () => {
    const spoolDir = join(env.db.dir, 'spool-stuck');
    const { logger, capture } = captureLogger();
    const writer = AuditWriter.open({ store: env.store, chain: 'stuck', instance: 't', spoolDir, fsync: false, batchMaxDelayMs: 0, commitThread: true, logger });
    writer.append(accessDraft(0));
    await writer.flush();
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    let held!: () => void;
    const locked = new Promise<void>((r) => { held = r; });
    const holder = env.store.transaction(async (trx) => {
      await createAuditRepo(trx, env.store.dialect).lockHead('stuck', GENESIS_HASH);
      held();
      await gate;
    });
    await locked;
    for (let i = 1; i <= 10; i++) writer.append(accessDraft(i));
    // The batch reaches the thread and waits on the head row (statementTimeoutMs: 30 s).
    await new Promise((r) => setTimeout(r, 300));
    const started = performance.now();
    await writer.close(500);
    const took = performance.now() - started;
    release();
    await holder;
    assert.ok(took < 5_000, `close(500) took ${Math.round(took)} ms: it waited for the batch it could abandon`);
    // Said as what it is: no "cannot write to the store" for a batch the shutdown abandoned.
    assert.ok(capture.lines.some((l) => String(l.msg).includes('abandoned at shutdown')), capture.text());
    assert.ok(!capture.lines.some((l) => String(l.msg).includes('cannot write to the store')), capture.text());
    const next = AuditWriter.open({ store: env.store, chain: 'stuck', instance: 't', spoolDir, fsync: false, commitThread: true });
    await next.flush();
    await next.close();
    assert.equal((await createAuditRepo(env.store.db, env.store.dialect).head('stuck'))?.seq, 11);
    assert.equal((await verifyAudit(env.store, { trustedKeys: [], chain: 'stuck' })).ok, true);
  });
});
