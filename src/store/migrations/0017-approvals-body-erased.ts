/**
 * Held bodies are kept only while an approval can still be used (docs/approvals.md): its body is
 * erased, in the same UPDATE, when it is used, denied or expires, and `body_erased_at` says when
 * (so a view tells an erased body from one never stored, migration 0014). Bodies of approvals
 * already over when this runs are erased here, not left until the 30-day prune.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('approvals').addColumn('body_erased_at', 'bigint').execute();
  await db.updateTable('approvals').set({ body: null, body_erased_at: Date.now() })
    .where('status', 'in', ['used', 'denied', 'expired']).where('body', 'is not', null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('approvals').dropColumn('body_erased_at').execute();
}
