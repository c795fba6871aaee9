/**
 * One external identity per provider and account: a unique index on
 * `identity_federated_links (provider, user_id)`. Linking checked "the account has no identity
 * of this provider yet" in a conditional INSERT, which PostgreSQL's READ COMMITTED lets two
 * concurrent sign-ins both pass, so an account could end up with two identities of one
 * provider and whoever held the second took it over. The index makes that impossible.
 *
 * Rows that already break the rule (made by that race, or by releases that linked by e-mail
 * without any check) are not resolved here: one of them is likely a takeover, and which one
 * is not knowable from the table (the oldest link may be the rightful owner's, or a departed
 * user's whose address the provider later gave to someone else). The migration refuses, and
 * its message names every such row; the operator deletes the links that are not rightful
 * (docs/identity.md, "Federated account linking") and starts again. Nothing is changed until then.
 */
import type { Kysely } from 'kysely';

/** At most this many rows are named in the message; the count covers the rest. */
const NAMED_ROWS = 50;

export async function up(db: Kysely<any>): Promise<void> {
  const duplicated = db.selectFrom('identity_federated_links').select(['provider', 'user_id'])
    .groupBy(['provider', 'user_id']).having((eb) => eb.fn.countAll(), '>', 1);
  const rows = await db.selectFrom('identity_federated_links as l')
    .innerJoin(duplicated.as('d'), (j) => j.onRef('d.provider', '=', 'l.provider').onRef('d.user_id', '=', 'l.user_id'))
    .select(['l.provider', 'l.user_id', 'l.external_subject', 'l.created_at'])
    .orderBy('l.provider').orderBy('l.user_id').orderBy('l.created_at').orderBy('l.external_subject')
    .execute();
  if (rows.length) {
    const named = rows.slice(0, NAMED_ROWS).map((r) => `(provider ${JSON.stringify(r.provider)}, user_id ${JSON.stringify(r.user_id)}, `
      + `external_subject ${JSON.stringify(r.external_subject)}, created_at ${new Date(Number(r.created_at)).toISOString()})`);
    throw new Error(`0007-identity-federated-link-unique: ${rows.length} rows of identity_federated_links link an account to more than one `
      + `identity of one provider (one of them may be an account takeover); delete the links that are not rightful, then start again: `
      + `${named.join('; ')}${rows.length > NAMED_ROWS ? `; and ${rows.length - NAMED_ROWS} more` : ''}`);
  }
  await db.schema.createIndex('identity_federated_links_provider_user').on('identity_federated_links')
    .columns(['provider', 'user_id']).unique().execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('identity_federated_links_provider_user').execute();
}
