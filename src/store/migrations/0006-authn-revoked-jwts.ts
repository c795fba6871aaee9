/**
 * Revoked JWTs keyed by (issuer, jti): a `jti` is unique only within its issuer, so with
 * several issuers a revocation keyed by `jti` alone also refused unrelated tokens of other
 * issuers that carry the same one (and let whoever runs an external issuer pick jtis to get
 * others' tokens refused).
 *
 * Rows of `authn_revoked_tokens` did not record their issuer; they are copied with issuer ''
 * (never a real issuer: the repository refuses an empty one), which the repository reports
 * as "issuer unknown" and authn applies to every issuer, as before, until they expire.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('authn_revoked_jwts')
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('jti', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('authn_revoked_jwts_pkey', ['issuer', 'jti'])
    .execute();
  await db.schema.createIndex('authn_revoked_jwts_expires_at').on('authn_revoked_jwts').column('expires_at').execute();
  await db.insertInto('authn_revoked_jwts')
    .columns(['issuer', 'jti', 'expires_at', 'created_at'])
    .expression(db.selectFrom('authn_revoked_tokens').select([sql.lit('').as('issuer'), 'jti', 'expires_at', 'created_at']))
    .execute();
  await db.schema.dropTable('authn_revoked_tokens').execute();
}

/** Back to one row per jti: every issuer's revocation of a jti becomes one for all (the later expiry). */
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('authn_revoked_tokens')
    .addColumn('jti', 'text', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('authn_revoked_tokens_expires_at').on('authn_revoked_tokens').column('expires_at').execute();
  await db.insertInto('authn_revoked_tokens')
    .columns(['jti', 'expires_at', 'created_at'])
    .expression(db.selectFrom('authn_revoked_jwts').select(['jti', (eb) => eb.fn.max('expires_at').as('expires_at'), (eb) => eb.fn.min('created_at').as('created_at')]).groupBy('jti'))
    .execute();
  await db.schema.dropTable('authn_revoked_jwts').execute();
}
