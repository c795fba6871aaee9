/**
 * Approvals bound to the request's Content-Type and Content-Encoding (docs/approvals.md): the
 * same body bytes mean something else under another multipart boundary, charset or encoding.
 * Null: the request had no such field. Rows written before this migration have null in both,
 * so an approval open across the upgrade is good only for a request without either field.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('approvals').addColumn('content_type', 'text').execute();
  await db.schema.alterTable('approvals').addColumn('content_encoding', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('approvals').dropColumn('content_encoding').execute();
  await db.schema.alterTable('approvals').dropColumn('content_type').execute();
}
