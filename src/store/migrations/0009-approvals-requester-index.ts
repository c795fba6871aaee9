/**
 * Approvals by requester: the approve stage counts a requester's open approvals before it
 * holds another request (routes' `approval.maxOpenPerRequester`), on every held request.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('approvals_requester_status').on('approvals').columns(['requester', 'status', 'expires_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('approvals_requester_status').execute();
}
