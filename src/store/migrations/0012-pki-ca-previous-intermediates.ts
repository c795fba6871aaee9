/**
 * Intermediate rotation (`gatehouse ca rotate-intermediate`, docs/pki.md): the intermediates
 * it replaced stay trusted until they expire, and every CRL is also signed by each of them,
 * for the certificates they issued. Rows written before this migration have none (null).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('pki_ca').addColumn('previous_intermediates', 'text').execute();
  await db.schema.alterTable('pki_crls').addColumn('previous_ders', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('pki_crls').dropColumn('previous_ders').execute();
  await db.schema.alterTable('pki_ca').dropColumn('previous_intermediates').execute();
}
