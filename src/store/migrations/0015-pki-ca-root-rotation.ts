/**
 * Root rotation (`gatehouse ca rotate-root`, docs/pki.md): a prepared root waits in
 * `pending_root` until it is activated, and the roots it replaced stay in `previous_roots`
 * (certificate and CRL, no key) while intermediates they signed are trusted. Rows written
 * before this migration have neither (null).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('pki_ca').addColumn('pending_root', 'text').execute();
  await db.schema.alterTable('pki_ca').addColumn('previous_roots', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('pki_ca').dropColumn('previous_roots').execute();
  await db.schema.alterTable('pki_ca').dropColumn('pending_root').execute();
}
