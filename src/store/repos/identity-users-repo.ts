/**
 * Users of the identity provider: accounts, login counters, TOTP state, recovery codes
 * and links to external identity providers. Only this file writes `identity_users`.
 */
import { sql, type Kysely, type Selectable } from 'kysely';
import { isGatehouseError } from '../../core/errors.ts';
import type { Database } from '../database.ts';
import type { IdentityUsersTable } from '../tables/identity.ts';
import { canMatch } from './lookup-value.ts';

/** A user as the rest of Gatehouse sees it (parsed, no SQL types). */
export interface UserRecord {
  id: string;
  username: string;
  email: string | undefined;
  emailVerified: boolean;
  displayName: string | undefined;
  passwordHash: string | undefined;
  roles: string[];
  disabled: boolean;
  failedLogins: number;
  lockedUntil: number | undefined;
  totpSecretSealed: string | undefined;
  totpEnabled: boolean;
  totpLastStep: number | undefined;
  createdAt: number;
  updatedAt: number;
}

export interface NewUser {
  id: string;
  username: string;
  email?: string | undefined;
  emailVerified?: boolean;
  displayName?: string | undefined;
  passwordHash?: string | undefined;
  roles: string[];
}

export type UserPatch = Partial<Pick<UserRecord, 'email' | 'emailVerified' | 'displayName' | 'passwordHash' | 'roles' | 'disabled' | 'failedLogins' | 'lockedUntil' | 'totpSecretSealed' | 'totpEnabled' | 'totpLastStep'>>;

/** The violated index as PostgreSQL and SQLite name it. */
const PROVIDER_USER_UNIQUE = /identity_federated_links_provider_user|identity_federated_links\.provider, identity_federated_links\.user_id/;

const num = (v: unknown): number => Number(v);
const opt = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));

function toRecord(row: Selectable<IdentityUsersTable>): UserRecord {
  return {
    id: row.id, username: row.username, email: row.email ?? undefined, emailVerified: row.email_verified === 1,
    displayName: row.display_name ?? undefined, passwordHash: row.password_hash ?? undefined,
    roles: JSON.parse(row.roles) as string[], disabled: row.disabled === 1, failedLogins: num(row.failed_logins),
    lockedUntil: opt(row.locked_until), totpSecretSealed: row.totp_secret ?? undefined, totpEnabled: row.totp_enabled === 1,
    totpLastStep: opt(row.totp_last_step), createdAt: num(row.created_at), updatedAt: num(row.updated_at),
  };
}

export class IdentityUsersRepo {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(user: NewUser, now = Date.now()): Promise<UserRecord> {
    await this.#db.insertInto('identity_users').values({
      id: user.id, username: user.username, email: user.email?.toLowerCase() ?? null,
      email_verified: user.emailVerified ? 1 : 0, display_name: user.displayName ?? null,
      password_hash: user.passwordHash ?? null, roles: JSON.stringify(user.roles), disabled: 0, failed_logins: 0,
      locked_until: null, totp_secret: null, totp_enabled: 0, totp_last_step: null, created_at: now, updated_at: now,
    }).execute();
    return (await this.findById(user.id))!;
  }

  async findById(id: string): Promise<UserRecord | undefined> {
    if (!canMatch(id)) return undefined;
    const row = await this.#db.selectFrom('identity_users').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async findByUsername(username: string): Promise<UserRecord | undefined> {
    if (!canMatch(username)) return undefined;
    const row = await this.#db.selectFrom('identity_users').selectAll().where('username', '=', username).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async findByEmail(email: string): Promise<UserRecord | undefined> {
    if (!canMatch(email)) return undefined;
    const row = await this.#db.selectFrom('identity_users').selectAll().where('email', '=', email.toLowerCase()).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async list(): Promise<UserRecord[]> {
    const rows = await this.#db.selectFrom('identity_users').selectAll().orderBy('username').execute();
    return rows.map(toRecord);
  }

  /** Applies a patch; returns the updated user, or undefined when it does not exist. */
  async update(id: string, patch: UserPatch, now = Date.now()): Promise<UserRecord | undefined> {
    const set: Partial<Record<keyof IdentityUsersTable, unknown>> = { updated_at: now };
    if ('email' in patch) set.email = patch.email?.toLowerCase() ?? null;
    if ('emailVerified' in patch) set.email_verified = patch.emailVerified ? 1 : 0;
    if ('displayName' in patch) set.display_name = patch.displayName ?? null;
    if ('passwordHash' in patch) set.password_hash = patch.passwordHash ?? null;
    if ('roles' in patch) set.roles = JSON.stringify(patch.roles ?? []);
    if ('disabled' in patch) set.disabled = patch.disabled ? 1 : 0;
    if ('failedLogins' in patch) set.failed_logins = patch.failedLogins ?? 0;
    if ('lockedUntil' in patch) set.locked_until = patch.lockedUntil ?? null;
    if ('totpSecretSealed' in patch) set.totp_secret = patch.totpSecretSealed ?? null;
    if ('totpEnabled' in patch) set.totp_enabled = patch.totpEnabled ? 1 : 0;
    if ('totpLastStep' in patch) set.totp_last_step = patch.totpLastStep ?? null;
    await this.#db.updateTable('identity_users').set(set as never).where('id', '=', id).execute();
    return this.findById(id);
  }

  /**
   * Counts one failed login atomically (safe with several instances); locks the account
   * until `lockUntil` when the count reaches `lockAfter`. Returns the new count.
   */
  async recordFailure(id: string, lockAfter: number, lockUntil: number): Promise<{ failures: number; locked: boolean }> {
    return this.#db.transaction().execute(async (trx) => {
      await trx.updateTable('identity_users').set((eb) => ({ failed_logins: eb('failed_logins', '+', 1) })).where('id', '=', id).execute();
      const row = await trx.selectFrom('identity_users').select(['failed_logins']).where('id', '=', id).executeTakeFirst();
      const failures = num(row?.failed_logins ?? 0);
      const locked = failures >= lockAfter;
      if (locked) {
        await trx.updateTable('identity_users').set({ locked_until: lockUntil, failed_logins: 0 }).where('id', '=', id).execute();
      }
      return { failures, locked };
    });
  }

  /**
   * Accepts a TOTP time step only if it is newer than the last accepted one, in one
   * conditional UPDATE, so two instances cannot both accept the same code.
   */
  async acceptTotpStep(id: string, step: number): Promise<boolean> {
    const result = await this.#db.updateTable('identity_users').set({ totp_last_step: step })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  /**
   * Makes `sealed` the user's pending (unconfirmed) TOTP secret, only while TOTP is not
   * enabled: an enrollment never overwrites a confirmed second factor. False when it is.
   */
  async setPendingTotp(id: string, sealed: string): Promise<boolean> {
    const result = await this.#db.updateTable('identity_users').set({ totp_secret: sealed, totp_last_step: null })
      .where('id', '=', id).where('totp_enabled', '=', 0)
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  /**
   * Enables TOTP with the pending secret `sealed` in one conditional UPDATE (compare-and-set):
   * only while TOTP is not enabled and `sealed` is still the pending secret — not replaced by
   * a later enrollment, not cleared by an MFA reset. False otherwise.
   */
  async enableTotp(id: string, sealed: string, step: number, now = Date.now()): Promise<boolean> {
    const result = await this.#db.updateTable('identity_users').set({ totp_enabled: 1, totp_last_step: step, updated_at: now })
      .where('id', '=', id).where('totp_enabled', '=', 0).where('totp_secret', '=', sealed)
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  async replaceRecoveryCodes(userId: string, hashes: string[]): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('identity_recovery_codes').where('user_id', '=', userId).execute();
      if (hashes.length) {
        await trx.insertInto('identity_recovery_codes').values(hashes.map((code_hash) => ({ user_id: userId, code_hash, used_at: null }))).execute();
      }
    });
  }

  /** Marks a recovery code used; true only for the first use of an existing code. */
  async useRecoveryCode(userId: string, hash: string, now = Date.now()): Promise<boolean> {
    const result = await this.#db.updateTable('identity_recovery_codes').set({ used_at: now })
      .where('user_id', '=', userId).where('code_hash', '=', hash).where('used_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  async countUnusedRecoveryCodes(userId: string): Promise<number> {
    const row = await this.#db.selectFrom('identity_recovery_codes').select((eb) => eb.fn.countAll().as('n'))
      .where('user_id', '=', userId).where('used_at', 'is', null).executeTakeFirst();
    return num(row?.n ?? 0);
  }

  async findLinkedUser(provider: string, externalSubject: string): Promise<UserRecord | undefined> {
    if (!canMatch(provider) || !canMatch(externalSubject)) return undefined;
    const link = await this.#db.selectFrom('identity_federated_links').select(['user_id'])
      .where('provider', '=', provider).where('external_subject', '=', externalSubject).executeTakeFirst();
    return link ? this.findById(link.user_id) : undefined;
  }

  async link(provider: string, externalSubject: string, userId: string, now = Date.now()): Promise<void> {
    await this.#db.insertInto('identity_federated_links').values({ provider, external_subject: externalSubject, user_id: userId, created_at: now }).execute();
  }

  /**
   * Links only while the user has no external identity at `provider` (`among: 'provider'`) or
   * at any provider (`among: 'any'`); false when it was not free. Concurrent links to one user
   * are serialised on the user's row: under PostgreSQL's READ COMMITTED the conditional INSERT
   * alone let two of them both see no link and both insert. The unique index on (provider,
   * user_id) (migration 0007) backs the per-provider rule; its violation is a lost race, so false.
   */
  async linkIfFree(provider: string, externalSubject: string, userId: string, among: 'provider' | 'any', now = Date.now()): Promise<boolean> {
    try {
      return await this.#db.transaction().execute(async (trx) => {
        // A no-op UPDATE takes the row lock on both backends; the INSERT after it reads what the winner committed.
        await trx.updateTable('identity_users').set((eb) => ({ updated_at: eb.ref('updated_at') })).where('id', '=', userId).execute();
        const result = await trx.insertInto('identity_federated_links')
          .columns(['provider', 'external_subject', 'user_id', 'created_at'])
          .expression(trx.selectNoFrom([
            sql<string>`cast(${provider} as text)`.as('provider'), sql<string>`cast(${externalSubject} as text)`.as('external_subject'),
            sql<string>`cast(${userId} as text)`.as('user_id'), sql<number>`cast(${now} as bigint)`.as('created_at'),
          ]).where((eb) => eb.not(eb.exists(eb.selectFrom('identity_federated_links').select('user_id').where('user_id', '=', userId)
            .$if(among === 'provider', (q) => q.where('provider', '=', provider))))))
          .executeTakeFirst();
        return result.numInsertedOrUpdatedRows === 1n;
      });
    } catch (error) {
      if (isGatehouseError(error) && error.code === 'ERR_STORE_CONFLICT' && PROVIDER_USER_UNIQUE.test(error.detail ?? '')) return false;
      throw error;
    }
  }
}
