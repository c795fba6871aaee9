/**
 * Failed-login counters per client address, shared by all instances through the store.
 * A fixed window: the count restarts when `windowMs` has passed since the first failure.
 */
import type { Kysely } from 'kysely';
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

  /** Counts a failure; blocks the address for `blockMs` when the count reaches `limit`. */
  async recordFailure(address: string, limit: number, windowMs: number, blockMs: number, now = Date.now()): Promise<{ failures: number; blocked: boolean }> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('identity_address_failures').selectAll().where('address', '=', address).executeTakeFirst();
      let failures = 1;
      if (!row) {
        await trx.insertInto('identity_address_failures').values({ address, failures: 1, window_start: now, blocked_until: null }).execute();
      } else if (Number(row.window_start) + windowMs <= now) {
        await trx.updateTable('identity_address_failures').set({ failures: 1, window_start: now, blocked_until: null }).where('address', '=', address).execute();
      } else {
        failures = Number(row.failures) + 1;
        await trx.updateTable('identity_address_failures').set({ failures }).where('address', '=', address).execute();
      }
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
