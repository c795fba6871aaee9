/**
 * The actor index filled in bulk behind the chain (src/audit/actor-index.ts, migration 0011):
 * `audit query --actor` must find every record of the actor exactly once, whether its entry is
 * in the index, still in the tail past the mark, or left past the mark by a run that stopped half
 * way; retention removes the entries of what it cuts; existing records are indexed by the migration.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Migrator, sql } from 'kysely';
import { ActorIndexer } from '../../src/audit/actor-index.ts';
import { GENESIS_HASH } from '../../src/audit/hash.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { MIGRATIONS } from '../../src/store/migrations/index.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import type { AuditRecord } from '../../src/audit/record.ts';
import { backends, type TestDatabase } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';
import { accessDraft } from './support/events.ts';

const repoOf = (store: Store) => createAuditRepo(store.db, store.dialect);

async function byActor(store: Store, actor: string, extra: { since?: number; until?: number; limit?: number } = {}): Promise<AuditRecord[]> {
  return repoOf(store).query({ actor: [actor], limit: extra.limit ?? 1000, ...extra });
}

async function entries(store: Store, chain: string): Promise<{ actor: string; seq: number }[]> {
  const rows = await store.db.selectFrom('audit_actor_index').select(['actor', 'seq']).where('chain', '=', chain).orderBy('seq').execute();
  return rows.map((r) => ({ actor: r.actor, seq: Number(r.seq) }));
}

/** Seqs of the actor's records, read from the records table itself (no index involved). */
async function truth(store: Store, chain: string, actor: string): Promise<number[]> {
  const rows = await store.db.selectFrom('audit_records').select('seq').where('chain', '=', chain).where('actor', '=', actor).orderBy('seq').execute();
  return rows.map((r) => Number(r.seq));
}

async function until(what: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const backend of await backends()) {
  describe(`audit actor index on ${backend.name}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend);

    // The index is filled by whoever commits: the main thread, or the commit thread with its own connection.
    for (const commitThread of [false, true]) it(`query by actor finds each record once, indexed or still in the tail, and close leaves no tail (batches committed ${commitThread ? 'on the commit thread' : 'inline'})`, async () => {
      const chain = commitThread ? 'a-thread' : 'a';
      const writer = AuditWriter.open({ store: env.store, chain, instance: 'test-1', spoolDir: join(env.db.dir, `spool-${chain}`), batchMaxEvents: 7, batchMaxDelayMs: 0, actorIndexEvery: 10, commitThread });
      let total = 43;
      try {
        // 3 actors, and every fifth record without one (a login failure for an unknown account).
        const append = (from: number, to: number) => { for (let i = from; i < to; i++) writer.append(accessDraft(i, i % 5 === 4 ? { subject: undefined } : { subject: `user-${i % 3}` })); };
        append(0, 43);
        await writer.flush();
        await until(async () => (await repoOf(env.store).actorIndexedSeq(chain)) >= 30);
        const mark = await repoOf(env.store).actorIndexedSeq(chain);
        // Batches of 7 end at 7, 14, … 42, 43; a run starts once the head is 10 past the mark, and
        // one that was still busy when 42 was committed starts again at 43 and indexes everything.
        // Then fewer records than `actorIndexEvery` are added: they stay in the tail.
        if (mark >= total) {
          append(total, total + 5);
          total += 5;
          await writer.flush();
        }
        assert.ok(mark < total, `some records are still in the tail (mark ${mark}, head ${total})`);
        const tail: number[] = [];
        for (const actor of ['user-0', 'user-1', 'user-2']) {
          const expected = await truth(env.store, chain, actor);
          tail.push(...expected.filter((s) => s > mark));
          assert.deepEqual((await byActor(env.store, actor)).filter((r) => r.chain === chain).map((r) => r.seq), expected, actor);
        }
        assert.ok(tail.length > 0, `records past the mark ${mark} were found too`);
        assert.ok((await entries(env.store, chain)).every((e) => e.actor.startsWith('user-')), 'records without an actor have no entry');
      } finally {
        await writer.close();
      }
      assert.equal(await repoOf(env.store).actorIndexedSeq(chain), total, 'close indexes the tail');
      assert.equal((await entries(env.store, chain)).length, (await env.store.db.selectFrom('audit_records').select('seq').where('chain', '=', chain).where('actor', 'is not', null).execute()).length);
      for (const actor of ['user-0', 'user-1', 'user-2']) assert.deepEqual((await byActor(env.store, actor)).filter((r) => r.chain === chain).map((r) => r.seq), await truth(env.store, chain, actor));
    });

    it('entries left past the mark by a run that stopped half way are not returned twice', async () => {
      const writer = AuditWriter.open({ store: env.store, chain: 'b', instance: 'test-1', spoolDir: join(env.db.dir, 'spool-b'), batchMaxDelayMs: 0, actorIndexEvery: 1_000_000 });
      try {
        for (let i = 0; i < 12; i++) writer.append(accessDraft(i, { subject: 'user-7' }));
        await writer.flush();
        const repo = repoOf(env.store);
        assert.equal(await repo.actorIndexedSeq('b'), 0);
        // What a run inserts before its last transaction moves the mark.
        const records = await repo.page('b', 0, 100);
        await repo.insertActorEntries('b', records.slice(0, 8).map((r) => ({ actor: r.actor!, time: r.time, seq: r.seq })));
        assert.deepEqual((await byActor(env.store, 'user-7')).map((r) => r.seq), records.map((r) => r.seq));
        // The next run inserts them again as no-ops and moves the mark.
        await repo.insertActorEntries('b', records.map((r) => ({ actor: r.actor!, time: r.time, seq: r.seq })));
        await repo.advanceActorIndex('b', 12);
        assert.deepEqual((await byActor(env.store, 'user-7')).map((r) => r.seq), records.map((r) => r.seq));
        await repo.advanceActorIndex('b', 5);
        assert.equal(await repo.actorIndexedSeq('b'), 12, 'the mark never moves back');
      } finally {
        await writer.close();
      }
    });

    it('entries already there, inserted again inside a transaction, are no-ops and the transaction goes on to move the mark', async () => {
      const writer = AuditWriter.open({ store: env.store, chain: 'b2', instance: 'test-1', spoolDir: join(env.db.dir, 'spool-b2'), batchMaxDelayMs: 0, actorIndexEvery: 1_000_000 });
      try {
        for (let i = 0; i < 12; i++) writer.append(accessDraft(i, { subject: `user-${i % 3}` }));
        await writer.flush();
        const records = await repoOf(env.store).page('b2', 0, 100);
        const all = records.map((r) => ({ actor: r.actor!, time: r.time, seq: r.seq }));
        await repoOf(env.store).insertActorEntries('b2', all.slice(3, 9));
        // On PostgreSQL the first try (a COPY) fails on the primary key: that must not abort the
        // transaction, whose later statements (the rest of a run's chunk) still have to commit.
        await env.store.transaction(async (trx) => {
          const t = createAuditRepo(trx, env.store.dialect);
          await t.insertActorEntries('b2', all);
          await t.advanceActorIndex('b2', 12);
        });
        assert.equal(await repoOf(env.store).actorIndexedSeq('b2'), 12);
        assert.deepEqual(await entries(env.store, 'b2'), all.map((e) => ({ actor: e.actor, seq: e.seq })));
        for (const actor of ['user-0', 'user-1', 'user-2']) assert.deepEqual((await byActor(env.store, actor)).filter((r) => r.chain === 'b2').map((r) => r.seq), await truth(env.store, 'b2', actor));
      } finally {
        await writer.close();
      }
    });

    it('time range, limit and the keyset cursor apply to indexed and tail records alike', async () => {
      const writer = AuditWriter.open({ store: env.store, chain: 'c', instance: 'test-1', spoolDir: join(env.db.dir, 'spool-c'), batchMaxDelayMs: 0, actorIndexEvery: 1_000_000 });
      const t0 = Date.now() - 100_000;
      try {
        for (let i = 0; i < 20; i++) writer.append({ ...accessDraft(i, { subject: 'user-9' }), time: t0 + i * 1000 });
        await writer.flush();
        const repo = repoOf(env.store);
        const records = await repo.page('c', 0, 100);
        await repo.insertActorEntries('c', records.slice(0, 10).map((r) => ({ actor: r.actor!, time: r.time, seq: r.seq })));
        await repo.advanceActorIndex('c', 10);
        // since/until straddle the mark (seq 10 has time t0 + 9 s).
        const window = await byActor(env.store, 'user-9', { since: t0 + 5000, until: t0 + 15_000 });
        assert.deepEqual(window.map((r) => r.seq), [6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        const first = await byActor(env.store, 'user-9', { limit: 7 });
        assert.deepEqual(first.map((r) => r.seq), [1, 2, 3, 4, 5, 6, 7]);
        const next = await repo.query({ actor: ['user-9'], chain: 'c', after: { chain: 'c', seq: 7 }, limit: 7 });
        assert.deepEqual(next.map((r) => r.seq), [8, 9, 10, 11, 12, 13, 14]);
      } finally {
        await writer.close();
      }
    });

    it('a record rewritten to another actor is not returned for the old one through its stale entry', async () => {
      const writer = AuditWriter.open({ store: env.store, chain: 'd', instance: 'test-1', spoolDir: join(env.db.dir, 'spool-d'), batchMaxDelayMs: 0 });
      for (let i = 0; i < 4; i++) writer.append(accessDraft(i, { subject: 'user-4' }));
      await writer.close();
      assert.equal(await repoOf(env.store).actorIndexedSeq('d'), 4);
      await env.store.db.updateTable('audit_records').set({ actor: 'user-5' }).where('chain', '=', 'd').where('seq', '=', 2).execute();
      assert.deepEqual((await byActor(env.store, 'user-4')).filter((r) => r.chain === 'd').map((r) => r.seq), [1, 3, 4]);
    });

    it('retention deletes the entries of the records it cuts', async () => {
      const writer = AuditWriter.open({ store: env.store, chain: 'e', instance: 'test-1', spoolDir: join(env.db.dir, 'spool-e'), batchMaxDelayMs: 0 });
      for (let i = 0; i < 10; i++) writer.append(accessDraft(i, { subject: `user-${i % 2}` }));
      await writer.close();
      await env.store.transaction(async (trx) => { await createAuditRepo(trx, env.store.dialect).deleteThrough('e', 6); });
      assert.deepEqual((await entries(env.store, 'e')).map((e) => e.seq), [7, 8, 9, 10]);
      assert.deepEqual((await byActor(env.store, 'user-0')).filter((r) => r.chain === 'e').map((r) => r.seq), [7, 9]);
    });
    it('retention cutting records while an index run is between reading and inserting leaves no entry naming the cut records\' actors', async () => {
      // Retention exists to forget old records, actors (e-mail addresses) included: an entry
      // inserted after the cut deleted its record would keep the actor and time for good.
      const writer = AuditWriter.open({ store: env.store, chain: 'f', instance: 'test-1', spoolDir: join(env.db.dir, 'spool-f'), batchMaxDelayMs: 0, actorIndexEvery: 1_000_000 });
      try {
        for (let i = 0; i < 12; i++) writer.append(accessDraft(i, { subject: i < 6 ? `gone-${i}@example.com` : 'user-kept' }));
        await writer.flush();
      } finally {
        await writer.close();
      }
      // close() indexed the chain: start it over, as if this run were the first.
      await env.store.db.deleteFrom('audit_actor_index').where('chain', '=', 'f').execute();
      await env.store.db.updateTable('audit_chain_heads').set({ actor_indexed_seq: 0 }).where('chain', '=', 'f').execute();
      let cut = 0;
      const indexer = new ActorIndexer({
        store: env.store, chain: 'f', every: 1,
        afterRead: async () => {
          // What applyRetention's transaction does: the head, then the records through the cut.
          cut = await env.store.transaction(async (trx) => {
            const t = createAuditRepo(trx, env.store.dialect);
            await t.lockHead('f', GENESIS_HASH);
            return t.deleteThrough('f', 6);
          });
        },
      });
      await indexer.drain(12);
      assert.equal(cut, 6, 'the cut ran between the read and the insert');
      assert.equal(await repoOf(env.store).actorIndexedSeq('f'), 12);
      const left = await entries(env.store, 'f');
      assert.deepEqual(left.filter((e) => e.seq <= 6), [], `entries of cut records: ${JSON.stringify(left)}`);
      assert.deepEqual(left.map((e) => e.seq), [7, 8, 9, 10, 11, 12]);
      assert.deepEqual((await byActor(env.store, 'user-kept')).filter((r) => r.chain === 'f').map((r) => r.seq), [7, 8, 9, 10, 11, 12]);
    });
    it('commits noted while an index run is under way are indexed when it ends, without waiting for the next commit (before, a quiet chain kept them in the tail until close)', async () => {
      const writer = AuditWriter.open({ store: env.store, chain: 'g', instance: 'test-1', spoolDir: join(env.db.dir, 'spool-g'), batchMaxDelayMs: 0, actorIndexEvery: 1_000_000 });
      try {
        for (let i = 0; i < 20; i++) writer.append(accessDraft(i, { subject: 'user-g' }));
        await writer.flush();
      } finally {
        await writer.close();
      }
      await env.store.db.deleteFrom('audit_actor_index').where('chain', '=', 'g').execute();
      await env.store.db.updateTable('audit_chain_heads').set({ actor_indexed_seq: 0 }).where('chain', '=', 'g').execute();
      let release: () => void = () => undefined;
      let reads = 0;
      const indexer = new ActorIndexer({
        store: env.store, chain: 'g', every: 5,
        // The first run reads through 10 and waits here while the chain's head moves on to 20.
        afterRead: () => (++reads === 1 ? new Promise<void>((r) => { release = r; }) : Promise.resolve()),
      });
      indexer.note(10);
      await until(async () => reads === 1);
      indexer.note(20); // committed meanwhile; no commit follows
      release();
      await until(async () => (await repoOf(env.store).actorIndexedSeq('g')) === 20, 5_000);
      await indexer.stop();
      assert.deepEqual((await entries(env.store, 'g')).map((e) => e.seq), Array.from({ length: 20 }, (_, i) => i + 1));
    });
  });

  describe(`migration 0011 on ${backend.name}: records stored before it`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    after(async () => { await db?.drop(); });

    it('are indexed by the migration, and the old (actor, time) index is gone', async () => {
      db = await backend.create();
      const store = await openStore(db.url, { poolMax: 2 });
      try {
        const before0011 = Object.fromEntries(Object.entries(MIGRATIONS).filter(([name]) => name < '0011'));
        const migrator = new Migrator({ db: store.db, provider: { getMigrations: async () => before0011 }, migrationTableName: 'gatehouse_migrations', migrationLockTableName: 'gatehouse_migrations_lock' });
        const { error } = await migrator.migrateToLatest();
        assert.equal(error, undefined);
        // Written as the release before would: records and head only.
        const now = Date.now();
        for (let seq = 1; seq <= 6; seq++) {
          await sql`insert into audit_records (chain, seq, time, instance, event, event_id, actor, action, outcome, details, prev_hash, hash)
            values ('old', ${seq}, ${now + seq}, 'i', 'gateway.request', ${`ev-${seq}`}, ${seq === 3 ? null : `user-${seq % 2}`}, 'gateway.request', 'success', '{}', 'p', 'h')`.execute(store.db);
        }
        await sql`insert into audit_chain_heads (chain, seq, hash, updated_at) values ('old', 6, 'h', ${now})`.execute(store.db);
        await store.migrate();
        assert.equal(await repoOf(store).actorIndexedSeq('old'), 6);
        assert.deepEqual((await entries(store, 'old')).map((e) => e.seq), [1, 2, 4, 5, 6]);
        assert.deepEqual((await byActor(store, 'user-1')).map((r) => r.seq), [1, 5]);
        const indexes = store.dialect === 'postgres'
          ? (await sql<{ name: string }>`select indexname as name from pg_indexes where tablename = 'audit_records'`.execute(store.db)).rows
          : (await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'audit_records'`.execute(store.db)).rows;
        assert.ok(!indexes.some((i) => i.name === 'audit_records_actor'), JSON.stringify(indexes));
      } finally {
        await store.close();
      }
    });
  });
}
