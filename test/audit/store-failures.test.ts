/**
 * Sequence numbers stay consistent when writes fail, and events survive an unreachable
 * store: a failing insert rolls back (no gap, no fork) and is retried; while PostgreSQL is
 * cut off (TCP relay) events wait in the spool and are written once it returns; two
 * writers appending to one chain concurrently never fork it. Each case runs with the batches
 * committed on the writer's thread and on its commit thread (src/audit/commit-thread.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { sql } from 'kysely';
import { AuditWriter } from '../../src/audit/writer.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { TcpRelay } from '../bus/tcp-relay.ts';
import { backends } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';
import { accessDraft } from './support/events.ts';

/** A trigger that makes every insert of a record with this request id fail (and so its whole batch). */
async function refuse(store: Store, requestId: string): Promise<void> {
  if (store.dialect === 'sqlite') {
    await sql`create trigger audit_refuse before insert on audit_records when new.request_id = ${sql.lit(requestId)} begin select raise(abort, 'refused'); end`.execute(store.db);
  } else {
    await sql`create or replace function audit_refuse() returns trigger language plpgsql as $$ begin if new.request_id = ${sql.lit(requestId)} then raise exception 'refused'; end if; return new; end $$`.execute(store.db);
    await sql`create trigger audit_refuse before insert on audit_records for each row execute function audit_refuse()`.execute(store.db);
  }
}

async function unrefuse(store: Store): Promise<void> {
  await sql`drop trigger audit_refuse ${store.dialect === 'postgres' ? sql`on audit_records` : sql``}`.execute(store.db);
  if (store.dialect === 'postgres') await sql`drop function audit_refuse()`.execute(store.db);
}

async function contiguous(store: Store, chain: string): Promise<number[]> {
  const seqs = (await createAuditRepo(store.db, store.dialect).page(chain, 0, 100_000)).map((r) => r.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'sequence numbers 1..n without gaps');
  return seqs;
}

/** Writer options that put its batches on a commit thread with its own connection, or keep them inline. */
const committer = (mode: 'inline' | 'thread'): { commitThread: boolean } => ({ commitThread: mode === 'thread' });

for (const backend of await backends()) for (const mode of ['inline', 'thread'] as const) {
  describe(`audit writes under failure on ${backend.name}, batches committed ${mode === 'inline' ? 'on the writer\'s thread' : 'on a commit thread'}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend);

    it('rolls back a batch whose insert fails (no seq consumed, head unchanged) and writes it once the failure is gone', async () => {
      const chain = `failing-${mode}`;
      const writer = AuditWriter.open({ store: env.store, chain, instance: 't', spoolDir: join(env.db.dir, `spool-failing-${mode}`), batchMaxEvents: 50, ...committer(mode) });
      for (let i = 0; i < 20; i++) writer.append(accessDraft(i));
      await writer.flush();
      // A trigger that refuses one particular record makes its whole batch fail.
      if (env.store.dialect === 'sqlite') {
        await sql`create trigger audit_refuse before insert on audit_records when new.request_id = 'req-poison' begin select raise(abort, 'refused'); end`.execute(env.store.db);
      } else {
        await sql`create function audit_refuse() returns trigger language plpgsql as $$ begin if new.request_id = 'req-poison' then raise exception 'refused'; end if; return new; end $$`.execute(env.store.db);
        await sql`create trigger audit_refuse before insert on audit_records for each row execute function audit_refuse()`.execute(env.store.db);
      }
      for (let i = 20; i < 30; i++) writer.append(accessDraft(i, i === 25 ? { requestId: 'req-poison' } : {}));
      const deadline = Date.now() + 5000;
      while (writer.stats().failedBatches < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(writer.stats().failedBatches >= 2, 'the batch failed and was retried');
      assert.deepEqual(await createAuditRepo(env.store.db, env.store.dialect).head(chain), { chain, seq: 20, hash: (await createAuditRepo(env.store.db, env.store.dialect).page(chain, 19, 1))[0]!.hash });
      await sql`drop trigger audit_refuse ${env.store.dialect === 'postgres' ? sql`on audit_records` : sql``}`.execute(env.store.db);
      await writer.flush();
      await writer.close();
      assert.equal((await contiguous(env.store, chain)).length, 30);
      assert.equal((await verifyAudit(env.store, { trustedKeys: [], chain })).ok, true);
    });

    it('keeps retrying a failing batch while events keep arriving (a steady stream of appends does not postpone the retry forever)', async () => {
      const chain = `starved-${mode}`;
      const writer = AuditWriter.open({ store: env.store, chain, instance: 't', spoolDir: join(env.db.dir, `spool-starved-${mode}`), batchMaxEvents: 5, ...committer(mode) });
      await refuse(env.store, 'req-starve');
      try {
        writer.append(accessDraft(0, { requestId: 'req-starve' }));
        for (let i = 1; i < 5; i++) writer.append(accessDraft(i));
        // One append every 10 ms, far more often than the 50 ms first backoff: the queue stays
        // above batchMaxEvents the whole time.
        for (let i = 5; i < 105; i++) {
          writer.append(accessDraft(i));
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.ok(writer.stats().failedBatches >= 2, `retried while appends kept coming (failed batches: ${writer.stats().failedBatches})`);
      } finally {
        await unrefuse(env.store);
        await writer.flush();
        await writer.close();
      }
      assert.equal((await contiguous(env.store, chain)).length, 105);
    });

    it('two writers appending to one chain at once serialize on the chain head: one chain, no fork, no duplicate seq', async () => {
      const chain = `shared-${mode}`;
      const other = await env.db.open();
      try {
        const a = AuditWriter.open({ store: env.store, chain, instance: 'a', spoolDir: join(env.db.dir, `spool-a-${mode}`), batchMaxEvents: 7, ...committer(mode) });
        const b = AuditWriter.open({ store: other, chain, instance: 'b', spoolDir: join(env.db.dir, `spool-b-${mode}`), batchMaxEvents: 5 });
        for (let i = 0; i < 200; i++) (i % 2 ? a : b).append(accessDraft(i));
        await Promise.all([a.flush(), b.flush()]);
        await Promise.all([a.close(), b.close()]);
      } finally {
        await other.close();
      }
      assert.equal((await contiguous(env.store, chain)).length, 200);
      assert.equal((await verifyAudit(env.store, { trustedKeys: [], chain })).ok, true);
    });
  });
}

for (const mode of ['inline', 'thread'] as const) describe(`audit writes while PostgreSQL is unreachable, batches committed ${mode === 'inline' ? 'on the writer\'s thread' : 'on a commit thread'}`, { skip: (await backends())[1]!.skip }, () => {
  it('keeps accepting events into the spool while the store is cut off, and writes all of them, in one unbroken chain, when it returns', async () => {
    const pgBackend = (await backends())[1]!;
    const db = await pgBackend.create();
    const u = new URL(db.url);
    const relay = new TcpRelay(u.hostname, Number(u.port || 5432));
    await relay.start();
    u.hostname = '127.0.0.1';
    u.port = String(relay.port);
    const store = await openStore(u.toString(), { poolMax: 2, connectTimeoutMs: 500 });
    await store.migrate();
    try {
      const writer = AuditWriter.open({ store, chain: 'outage', instance: 't', spoolDir: join(db.dir, 'spool-outage'), batchMaxEvents: 20, ...committer(mode) });
      for (let i = 0; i < 50; i++) writer.append(accessDraft(i));
      await writer.flush();
      await relay.cut();
      for (let i = 50; i < 150; i++) writer.append(accessDraft(i));
      const deadline = Date.now() + 5000;
      while (writer.stats().failingSince === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.notEqual(writer.stats().failingSince, undefined, 'the writer noticed the outage');
      assert.equal(writer.stats().committed, 50);
      await relay.restore();
      await writer.flush();
      await writer.close();
      const direct = await db.open();
      try {
        assert.equal((await contiguous(direct, 'outage')).length, 150);
        assert.equal((await verifyAudit(direct, { trustedKeys: [], chain: 'outage' })).ok, true);
      } finally {
        await direct.close();
      }
    } finally {
      await store.close();
      await relay.cut().catch(() => {});
      await db.drop();
    }
  });
});
