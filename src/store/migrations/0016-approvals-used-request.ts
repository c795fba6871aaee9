/**
 * Which request used an approval (docs/approvals.md): a request refused before the forward
 * stage sent it upstream gives its approval back, and only while the approval is still used
 * by that very request (`… WHERE status = 'used' AND used_request_id = ? AND used_at = ?`).
 * Null for approvals not used, and for those used before this migration.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('approvals').addColumn('used_request_id', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('approvals').dropColumn('used_request_id').execute();
}
