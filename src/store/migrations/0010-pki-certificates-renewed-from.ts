/**
 * Renewal lineage: each issued certificate records the serial it was renewed from, so that
 * revoking a serial also revokes every certificate renewed from it (docs/pki.md,
 * Revocation). Rows issued before this migration have no lineage (null).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('pki_certificates').addColumn('renewed_from', 'text').execute();
  // Revocation walks the lineage downwards: children of a serial, one level at a time.
  await db.schema.createIndex('pki_certificates_renewed_from').on('pki_certificates').column('renewed_from').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('pki_certificates_renewed_from').execute();
  await db.schema.alterTable('pki_certificates').dropColumn('renewed_from').execute();
}
