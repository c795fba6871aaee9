/** Signing keys and cookie secrets of the identity provider, sealed (encrypted) at rest. */
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { IdentityKeysTable } from '../tables/identity.ts';
import type { Database } from '../database.ts';
import type { StoreDialect } from '../types.ts';

export interface StoredKey {
  kid: string;
  use: 'sig' | 'cookie';
  alg: string;
  status: 'active' | 'retiring';
  sealed: string;
  publicJwk: Record<string, unknown>;
  createdAt: number;
  retireAt: number | undefined;
}

function toRecord(row: Selectable<IdentityKeysTable>): StoredKey {
  return {
    kid: row.kid, use: row.use === 'cookie' ? 'cookie' : 'sig', alg: row.alg, status: row.status === 'active' ? 'active' : 'retiring',
    sealed: row.sealed, publicJwk: JSON.parse(row.public_jwk) as Record<string, unknown>, createdAt: Number(row.created_at),
    retireAt: row.retire_at === null ? undefined : Number(row.retire_at),
  };
}

export class IdentityKeysRepo {
  readonly #db: Kysely<Database>;
  readonly #dialect: StoreDialect;

  /** @param dialect `store.dialect`: PostgreSQL needs an explicit lock, SQLite's write transactions already exclude each other. */
  constructor(db: Kysely<Database>, dialect: StoreDialect) {
    this.#db = db;
    this.#dialect = dialect;
  }

  /**
   * Makes key changes of concurrent transactions (other instances) wait for this one. Without
   * it, on PostgreSQL two instances starting at once on an empty database both saw no active
   * key and each inserted its own first key (each then signed with a key the other might not
   * publish), and two rotations at once left two active keys. The lock does not block readers.
   */
  async #lockKeys(trx: Transaction<Database>): Promise<void> {
    if (this.#dialect === 'postgres') await sql`lock table identity_keys in share row exclusive mode`.execute(trx);
  }

  /** Keys of one use, newest first; retiring keys whose time has passed are left out. */
  async list(use: 'sig' | 'cookie', now = Date.now()): Promise<StoredKey[]> {
    const rows = await this.#db.selectFrom('identity_keys').selectAll().where('use', '=', use)
      .where((eb) => eb.or([eb('retire_at', 'is', null), eb('retire_at', '>', now)]))
      .orderBy('created_at', 'desc').orderBy('kid').execute();
    return rows.map(toRecord);
  }

  /** Kid of the newest active key of a use (the signer every instance should use), or undefined. */
  async activeKid(use: 'sig' | 'cookie'): Promise<string | undefined> {
    const row = await this.#db.selectFrom('identity_keys').select('kid').where('use', '=', use).where('status', '=', 'active')
      .orderBy('created_at', 'desc').orderBy('kid').limit(1).executeTakeFirst();
    return row?.kid;
  }

  /**
   * Makes `key` the only active key of its use: the previous active keys become
   * retiring until `retireAt`, and expired ones are deleted — in one transaction.
   */
  async rotate(key: Omit<StoredKey, 'status' | 'retireAt'>, retireAt: number, now = Date.now(), retireEarlier = false): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await this.#lockKeys(trx);
      await trx.deleteFrom('identity_keys').where('use', '=', key.use).where('retire_at', '<=', now).execute();
      await trx.updateTable('identity_keys').set({ status: 'retiring', retire_at: retireAt })
        .where('use', '=', key.use).where('status', '=', 'active').execute();
      // Every key of this use still retiring goes too: a rotation that withdraws the keys (one
      // may be compromised) leaves only the new one.
      if (retireEarlier) {
        await trx.updateTable('identity_keys').set({ retire_at: retireAt })
          .where('use', '=', key.use).where('status', '=', 'retiring').where('retire_at', '>', retireAt).execute();
      }
      await trx.insertInto('identity_keys').values({
        kid: key.kid, use: key.use, alg: key.alg, status: 'active', sealed: key.sealed,
        public_jwk: JSON.stringify(key.publicJwk), created_at: key.createdAt, retire_at: null,
      }).execute();
    });
  }

  /** Deletes keys whose retirement time has passed (any use); returns how many. */
  async deleteRetired(now = Date.now()): Promise<number> {
    const result = await this.#db.deleteFrom('identity_keys').where('retire_at', 'is not', null).where('retire_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Inserts the first key of a use unless another instance did so first; returns false then. */
  async insertFirst(key: Omit<StoredKey, 'status' | 'retireAt'>): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      await this.#lockKeys(trx);
      const existing = await trx.selectFrom('identity_keys').select(['kid']).where('use', '=', key.use).where('status', '=', 'active').executeTakeFirst();
      if (existing) return false;
      await trx.insertInto('identity_keys').values({
        kid: key.kid, use: key.use, alg: key.alg, status: 'active', sealed: key.sealed,
        public_jwk: JSON.stringify(key.publicJwk), created_at: key.createdAt, retire_at: null,
      }).execute();
      return true;
    });
  }
}
