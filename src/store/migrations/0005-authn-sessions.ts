/** Gateway authentication: browser sessions, pending logins, revoked JWT ids, seen DPoP proofs. */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('authn_sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('amr', 'text', (c) => c.notNull())
    .addColumn('auth_time', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('authn_sessions_subject').on('authn_sessions').column('subject').execute();
  await db.schema.createIndex('authn_sessions_expires_at').on('authn_sessions').column('expires_at').execute();
  await db.schema.createIndex('authn_sessions_last_seen_at').on('authn_sessions').column('last_seen_at').execute();

  await db.schema.createTable('authn_login_states')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('nonce', 'text', (c) => c.notNull())
    .addColumn('code_verifier', 'text', (c) => c.notNull())
    .addColumn('return_to', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('authn_login_states_expires_at').on('authn_login_states').column('expires_at').execute();

  await db.schema.createTable('authn_revoked_tokens')
    .addColumn('jti', 'text', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('authn_revoked_tokens_expires_at').on('authn_revoked_tokens').column('expires_at').execute();

  await db.schema.createTable('authn_dpop_proofs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('authn_dpop_proofs_expires_at').on('authn_dpop_proofs').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['authn_dpop_proofs', 'authn_revoked_tokens', 'authn_login_states', 'authn_sessions']) {
    await db.schema.dropTable(table).execute();
  }
}
