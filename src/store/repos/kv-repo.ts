/**
 * TTL'd JSON records keyed by (namespace, id) — the storage behind the OIDC provider's
 * adapter (namespace = model name) and anything else that needs expiring records.
 * Operations map one to one onto oidc-provider's adapter interface.
 *
 * Expiry is enforced on read: an expired record is never returned, even before
 * `deleteExpired()` has swept it.
 */
import type { Kysely, Selectable } from 'kysely';
import { GatehouseError } from '../../core/errors.ts';
import type { Database } from '../database.ts';
import { fromJsonText, toJsonText } from '../json-text.ts';
import type { KvRecordsTable } from '../tables/store.ts';

/** Secondary keys a record can be found or revoked by. */
export interface KvKeys {
  uid?: string;
  grantId?: string;
  userCode?: string;
}

export interface KvRecord {
  namespace: string;
  id: string;
  payload: unknown;
  /** Epoch ms; null = never expires. */
  expiresAt: number | null;
  uid: string | null;
  grantId: string | null;
  userCode: string | null;
  /** Epoch ms of the first consume, or null. */
  consumedAt: number | null;
}

export interface KvRepoOptions {
  /** Clock in epoch ms (tests inject one). Default `Date.now`. */
  now?: () => number;
}

export interface KvRepo {
  /**
   * Inserts or replaces a record. `expiresInSec` undefined = never expires. Secondary
   * keys default to the payload's own string `uid`, `grantId` and `userCode` fields
   * (what oidc-provider puts there); pass `keys` to set them explicitly. Replacing a
   * record keeps its `consumedAt`.
   */
  upsert(namespace: string, id: string, payload: unknown, expiresInSec?: number, keys?: KvKeys): Promise<void>;
  /** The live record, or undefined when missing or expired. */
  find(namespace: string, id: string): Promise<KvRecord | undefined>;
  /** Whether a live record `id` is in any of `namespaces`: one query, payload not read. */
  exists(namespaces: readonly string[], id: string): Promise<boolean>;
  findByUid(namespace: string, uid: string): Promise<KvRecord | undefined>;
  findByUserCode(namespace: string, userCode: string): Promise<KvRecord | undefined>;
  /** Every live record of `namespace` whose grant id is `grantId` (oldest first). */
  findByGrantId(namespace: string, grantId: string): Promise<KvRecord[]>;
  /**
   * Marks a live record consumed. Atomic: returns true only for the first consume, so a
   * replayed one-time code is detected even under concurrency.
   */
  consume(namespace: string, id: string): Promise<boolean>;
  /**
   * Writes a record only if no live one exists (an expired one is replaced). Atomic: of
   * concurrent claims of one id exactly one returns true — "seen before?" and "remember it"
   * in one step, for replay detection across requests and instances.
   */
  claim(namespace: string, id: string, payload: unknown, expiresInSec: number): Promise<boolean>;
  /** Deletes a record; returns whether one existed. */
  destroy(namespace: string, id: string): Promise<boolean>;
  /**
   * Deletes every record of a grant, across namespaces except those in `keep`; returns how
   * many. (`keep`: records that must outlive the grant's deletion, to be read after it.)
   */
  revokeByGrantId(grantId: string, keep?: readonly string[]): Promise<number>;
  /** Sweeps expired records; returns how many were deleted. */
  deleteExpired(): Promise<number>;
}

/**
 * @param db the store's `db`, or a transaction to take part in it.
 * @example
 *   const kv = createKvRepo(store.db);
 *   await kv.upsert('AuthorizationCode', code, payload, 60);
 */
export function createKvRepo(db: Kysely<Database>, options: KvRepoOptions = {}): KvRepo {
  const now = options.now ?? Date.now;

  const live = (t: number) => db.selectFrom('kv_records').selectAll()
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', t)]));

  return {
    async upsert(namespace, id, payload, expiresInSec, keys) {
      const t = now();
      const k = keys ?? keysFromPayload(payload);
      for (const key of [namespace, id, k.uid, k.grantId, k.userCode]) {
        if (key !== undefined && !isValidKey(key)) {
          throw new GatehouseError('ERR_STORE_VALUE_INVALID', { detail: 'kv key must be 1-512 well-formed characters without NUL' });
        }
      }
      const expiresAt = expiresInSec === undefined ? null : t + toMs(expiresInSec);
      const row = {
        payload: toJsonText(payload),
        expires_at: expiresAt,
        uid: k.uid ?? null,
        grant_id: k.grantId ?? null,
        user_code: k.userCode ?? null,
        updated_at: t,
      };
      await db.insertInto('kv_records')
        .values({ namespace, id, ...row, consumed_at: null, created_at: t })
        .onConflict((oc) => oc.columns(['namespace', 'id']).doUpdateSet(row))
        .execute();
    },

    async find(namespace, id) {
      if (!isValidKey(namespace) || !isValidKey(id)) return undefined;
      const row = await live(now()).where('namespace', '=', namespace).where('id', '=', id).executeTakeFirst();
      return row && toRecord(row);
    },

    async exists(namespaces, id) {
      if (namespaces.length === 0 || !namespaces.every(isValidKey) || !isValidKey(id)) return false;
      const t = now();
      const row = await db.selectFrom('kv_records').select('id')
        .where('namespace', 'in', [...namespaces]).where('id', '=', id)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', t)]))
        .limit(1).executeTakeFirst();
      return row !== undefined;
    },

    async findByUid(namespace, uid) {
      if (!isValidKey(namespace) || !isValidKey(uid)) return undefined;
      const row = await live(now()).where('namespace', '=', namespace).where('uid', '=', uid).orderBy('updated_at', 'desc').executeTakeFirst();
      return row && toRecord(row);
    },

    async findByUserCode(namespace, userCode) {
      if (!isValidKey(namespace) || !isValidKey(userCode)) return undefined;
      const row = await live(now()).where('namespace', '=', namespace).where('user_code', '=', userCode).orderBy('updated_at', 'desc').executeTakeFirst();
      return row && toRecord(row);
    },

    async findByGrantId(namespace, grantId) {
      if (!isValidKey(namespace) || !isValidKey(grantId)) return [];
      const rows = await live(now()).where('namespace', '=', namespace).where('grant_id', '=', grantId).orderBy('created_at').orderBy('id').execute();
      return rows.map(toRecord);
    },

    async consume(namespace, id) {
      if (!isValidKey(namespace) || !isValidKey(id)) return false;
      const t = now();
      const result = await db.updateTable('kv_records')
        .set({ consumed_at: t })
        .where('namespace', '=', namespace).where('id', '=', id).where('consumed_at', 'is', null)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', t)]))
        .executeTakeFirst();
      return result.numUpdatedRows === 1n;
    },

    async claim(namespace, id, payload, expiresInSec) {
      if (!isValidKey(namespace) || !isValidKey(id)) {
        throw new GatehouseError('ERR_STORE_VALUE_INVALID', { detail: 'kv key must be 1-512 well-formed characters without NUL' });
      }
      const t = now();
      // An expired record of the same id is not "seen": clear it so the insert can win.
      await db.deleteFrom('kv_records').where('namespace', '=', namespace).where('id', '=', id).where('expires_at', '<=', t).execute();
      const k = keysFromPayload(payload);
      const result = await db.insertInto('kv_records')
        .values({
          namespace, id, payload: toJsonText(payload), expires_at: t + toMs(expiresInSec),
          uid: k.uid ?? null, grant_id: k.grantId ?? null, user_code: k.userCode ?? null, consumed_at: null, created_at: t, updated_at: t,
        })
        .onConflict((oc) => oc.columns(['namespace', 'id']).doNothing())
        .executeTakeFirst();
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
    },

    async destroy(namespace, id) {
      if (!isValidKey(namespace) || !isValidKey(id)) return false;
      const result = await db.deleteFrom('kv_records').where('namespace', '=', namespace).where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async revokeByGrantId(grantId, keep = []) {
      if (!isValidKey(grantId)) return 0;
      let query = db.deleteFrom('kv_records').where('grant_id', '=', grantId);
      if (keep.length > 0) query = query.where('namespace', 'not in', [...keep]);
      const result = await query.executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async deleteExpired() {
      const result = await db.deleteFrom('kv_records').where('expires_at', '<=', now()).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

/**
 * Keys often come straight from a request (a presented token or code). A key no write
 * accepts can never be stored, so a lookup with one is simply "not found" — never a
 * database error: PostgreSQL rejects NUL in text, both drivers turn lone surrogates into
 * U+FFFD (two different keys would collide), and a PostgreSQL index entry is limited to
 * about 2.7 kB (512 characters stay under it even at 4 UTF-8 bytes each).
 */
function isValidKey(key: unknown): key is string {
  return typeof key === 'string' && key.length > 0 && key.length <= 512 && key.isWellFormed() && !key.includes('\0');
}

// Keeps now + ttl far inside Number.MAX_SAFE_INTEGER and the int8 range.
const MAX_TTL_SEC = 100 * 365 * 24 * 3600;

function toMs(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > MAX_TTL_SEC) {
    throw new GatehouseError('ERR_STORE_VALUE_INVALID', { detail: 'expiresInSec must be a finite number between 0 and 100 years' });
  }
  return Math.round(seconds * 1000);
}

function keysFromPayload(payload: unknown): KvKeys {
  if (typeof payload !== 'object' || payload === null) return {};
  const p = payload as Record<string, unknown>;
  const pick = (name: string) => (Object.hasOwn(p, name) && typeof p[name] === 'string' ? p[name] : undefined);
  const keys: KvKeys = {};
  const uid = pick('uid');
  const grantId = pick('grantId');
  const userCode = pick('userCode');
  if (uid !== undefined) keys.uid = uid;
  if (grantId !== undefined) keys.grantId = grantId;
  if (userCode !== undefined) keys.userCode = userCode;
  return keys;
}

function toRecord(row: Selectable<KvRecordsTable>): KvRecord {
  return {
    namespace: row.namespace,
    id: row.id,
    payload: fromJsonText(row.payload),
    expiresAt: row.expires_at,
    uid: row.uid,
    grantId: row.grant_id,
    userCode: row.user_code,
    consumedAt: row.consumed_at,
  };
}
