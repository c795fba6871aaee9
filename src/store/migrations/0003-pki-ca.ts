/** Certificate authority: CA material, issued certificates, CRLs, bootstrap tokens. */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('pki_ca')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('key_algorithm', 'text', (c) => c.notNull())
    .addColumn('root_cert_pem', 'text', (c) => c.notNull())
    .addColumn('root_key_sealed', 'text')
    .addColumn('intermediate_cert_pem', 'text', (c) => c.notNull())
    .addColumn('intermediate_key_sealed', 'text', (c) => c.notNull())
    .addColumn('root_crl_pem', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema.createTable('pki_certificates')
    .addColumn('serial', 'text', (c) => c.primaryKey())
    .addColumn('spiffe_id', 'text', (c) => c.notNull())
    .addColumn('dns_names', 'text', (c) => c.notNull())
    .addColumn('ip_addresses', 'text', (c) => c.notNull())
    .addColumn('not_before', 'bigint', (c) => c.notNull())
    .addColumn('not_after', 'bigint', (c) => c.notNull())
    .addColumn('cert_pem', 'text', (c) => c.notNull())
    .addColumn('issued_via', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .addColumn('revocation_reason', 'text')
    .execute();
  await db.schema.createIndex('pki_certificates_spiffe_id').on('pki_certificates').columns(['spiffe_id', 'not_after']).execute();
  await db.schema.createIndex('pki_certificates_revoked').on('pki_certificates').columns(['revoked_at', 'not_after']).execute();

  await db.schema.createTable('pki_crls')
    .addColumn('number', 'bigint', (c) => c.primaryKey())
    .addColumn('this_update', 'bigint', (c) => c.notNull())
    .addColumn('next_update', 'bigint', (c) => c.notNull())
    .addColumn('der', 'text', (c) => c.notNull())
    .execute();

  await db.schema.createTable('pki_bootstrap_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('spiffe_id', 'text', (c) => c.notNull())
    .addColumn('dns_names', 'text', (c) => c.notNull())
    .addColumn('ip_addresses', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['pki_bootstrap_tokens', 'pki_crls', 'pki_certificates', 'pki_ca']) {
    await db.schema.dropTable(table).execute();
  }
}
