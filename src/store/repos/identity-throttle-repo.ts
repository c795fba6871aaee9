/**
 * Failed-login counters per client address, shared by all instances through the store.
 * A fixed window: the count restarts when `windowMs` has passed since the first failure.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../database.ts';


export class IdentityThrottleRepo {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Milliseconds-epoch until which the address is blocked, or undefined. */
  async blockedUntil(address: string, now = Date.now()): Promise<number | undefined> {
    const row = await this.#db.selectFrom('identity_address_failures').select(['blocked_until']).where('address', '=', address).executeTakeFirst();
    const until = row?.blocked_until === null || row?.blocked_until === undefined ? undefined : Number(row.blocked_until);
    return until !== undefined && until > now ? until : undefined;
  }

  /**
   * Counts a failure; blocks the address for `blockMs` when the count reaches `limit`.
   *
   * The count is moved by one upsert that reads and writes the row itself (ON CONFLICT DO
   * UPDATE … RETURNING): on PostgreSQL a read followed by a write in the application lost
   * every increment made by a concurrent request in between — parallel guesses sent to two
   * instances were counted about once per round — and two first failures at once collided
   * on the insert (ERR_STORE_CONFLICT). The upsert holds the row lock until the block below
   * is written, so exactly one failure sees the count reach `limit`.
   */
  async recordFailure(address: string, limit: number, windowMs: number, blockMs: number, now = Date.now()): Promise<{ failures: number; blocked: boolean }> {
    return this.#db.transaction().execute(async (trx) => {
      const current = sql.ref('identity_address_failures.window_start');
      const expired = sql<boolean>`${current} + ${windowMs} <= ${now}`;
      const row = await trx.insertInto('identity_address_failures')
        .values({ address, failures: 1, window_start: now, blocked_until: null })
        .onConflict((oc) => oc.column('address').doUpdateSet({
          failures: sql<number>`case when ${expired} then 1 else ${sql.ref('identity_address_failures.failures')} + 1 end`,
          window_start: sql<number>`case when ${expired} then ${now} else ${current} end`,
          blocked_until: sql<number | null>`case when ${expired} then null else ${sql.ref('identity_address_failures.blocked_until')} end`,
        }))
        .returning('failures')
        .executeTakeFirstOrThrow();
      const failures = Number(row.failures);
      const blocked = failures >= limit;
      if (blocked) {
        await trx.updateTable('identity_address_failures').set({ blocked_until: now + blockMs, failures: 0, window_start: now }).where('address', '=', address).execute();
      }
      return { failures, blocked };
    });
  }

  async clear(address: string): Promise<void> {
    await this.#db.deleteFrom('identity_address_failures').where('address', '=', address).execute();
  }
}
