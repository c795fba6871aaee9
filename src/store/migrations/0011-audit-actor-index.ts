/**
 * The audit log's actor index moves out of `audit_records` into `audit_actor_index`, filled in
 * bulk behind the chain (src/audit/actor-index.ts) instead of by every insert.
 *
 * Why: `(actor, time)` on the records table put each appended row at its actor's place in a
 * B-tree; with many actors every group commit dirtied about one index page per row, which was
 * written to the WAL and checkpointed again — measured on SQLite at 200,000 appends over 1,000
 * actors, 29.5 µs CPU per row against 10.7 without that index, and 48 µs per row by the
 * millionth (docs/audit.md, "Actor index"). Entries added in bulk, grouped by actor, share
 * their pages.
 *
 * `audit_chain_heads.actor_indexed_seq`: every record of the chain with seq ≤ it has its entry;
 * later ones (the tail) are found by scanning the chain from there. Existing records are
 * indexed here, so every chain starts with an empty tail.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('audit_actor_index')
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('time', 'bigint', (c) => c.notNull())
    .addColumn('chain', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('audit_actor_index_pk', ['actor', 'time', 'chain', 'seq'])
    .execute();
  await db.schema.alterTable('audit_chain_heads')
    .addColumn('actor_indexed_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`insert into audit_actor_index (actor, time, chain, seq)
    select actor, time, chain, seq from audit_records where actor is not null`.execute(db);
  await sql`update audit_chain_heads set actor_indexed_seq =
    coalesce((select max(r.seq) from audit_records r where r.chain = audit_chain_heads.chain), 0)`.execute(db);
  await db.schema.dropIndex('audit_records_actor').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('audit_records_actor').on('audit_records').columns(['actor', 'time']).execute();
  await db.schema.alterTable('audit_chain_heads').dropColumn('actor_indexed_seq').execute();
  await db.schema.dropTable('audit_actor_index').execute();
}
