/**
 * The held request's body, kept with its approval so that the approver sees what they approve
 * (docs/approvals.md), base64url text (docs/store.md: no portable binary type). Deleted with
 * the row by the approvals' pruning. Rows written before this migration have none (null).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('approvals').addColumn('body', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('approvals').dropColumn('body').execute();
}
