/**
 * Tables owned by the store area itself. Conventions (docs/store.md): timestamps are
 * epoch milliseconds in `bigint` columns (read as number), JSON is `text`, booleans are
 * `integer` 0/1, names are snake_case.
 */
import type { ColumnType } from 'kysely';

/** TTL'd JSON records keyed by (namespace, id): OIDC provider models and the like. */
export interface KvRecordsTable {
  namespace: string;
  id: string;
  /** JSON text. */
  payload: string;
  /** Epoch ms after which the record is gone; null never expires. */
  expires_at: number | null;
  uid: string | null;
  grant_id: string | null;
  user_code: string | null;
  /** Epoch ms of the first consume; null while unused. */
  consumed_at: number | null;
  created_at: ColumnType<number, number, never>;
  updated_at: number;
}

export interface StoreTables {
  kv_records: KvRecordsTable;
}
