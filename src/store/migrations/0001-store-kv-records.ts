/** TTL'd key-value records (OIDC provider adapter and similar). */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('kv_records')
    .addColumn('namespace', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('uid', 'text')
    .addColumn('grant_id', 'text')
    .addColumn('user_code', 'text')
    .addColumn('consumed_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('kv_records_pk', ['namespace', 'id'])
    .execute();
  await db.schema.createIndex('kv_records_uid').on('kv_records').columns(['namespace', 'uid']).execute();
  await db.schema.createIndex('kv_records_user_code').on('kv_records').columns(['namespace', 'user_code']).execute();
  await db.schema.createIndex('kv_records_grant_id').on('kv_records').column('grant_id').execute();
  await db.schema.createIndex('kv_records_expires_at').on('kv_records').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('kv_records').execute();
}
