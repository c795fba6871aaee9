/**
 * Tables of the tamper-evident audit log and of anomaly detection (docs/audit.md,
 * docs/detection.md). Timestamps are epoch milliseconds, JSON is text, per docs/store.md.
 */
import type { ColumnType } from 'kysely';

/** One audit record. `(chain, seq)` is the position; `prev_hash`/`hash` link the chain. */
export interface AuditRecordsTable {
  chain: string;
  seq: number;
  time: number;
  instance: string;
  event: string;
  /** Envelope id of the source event (UUIDv7); unique, so a replayed event is never stored twice. */
  event_id: string;
  request_id: string | null;
  trace_id: string | null;
  actor: string | null;
  actor_kind: string | null;
  action: string;
  resource: string | null;
  outcome: string;
  decision_id: string | null;
  /** JSON array text, or null. */
  reasons: string | null;
  client_address: string | null;
  /** Redacted JSON text. */
  details: string;
  prev_hash: string;
  hash: string;
}

/** Where a chain ends: locked (`FOR UPDATE` on PostgreSQL) by every append, so appends serialize. */
export interface AuditChainHeadsTable {
  chain: string;
  seq: number;
  hash: string;
  updated_at: number;
  /** Every record of the chain with seq ≤ this has its `audit_actor_index` entry (src/audit/actor-index.ts). */
  actor_indexed_seq: ColumnType<number, number | undefined, number>;
}

/**
 * Which records name an actor, added in bulk behind the chain rather than by every insert
 * (migration 0011): records with seq ≤ their chain head's `actor_indexed_seq` are here.
 */
export interface AuditActorIndexTable {
  actor: string;
  time: number;
  chain: string;
  seq: number;
}

/** A signed statement "chain C had hash H at seq S at time T". */
export interface AuditCheckpointsTable {
  chain: string;
  seq: number;
  hash: string;
  time: number;
  instance: string;
  kid: string;
  /** Compact JWS (EdDSA) over the canonical checkpoint payload. */
  jws: string;
  created_at: ColumnType<number, number, never>;
}

export interface DetectAlertsTable {
  /** Deterministic (rule + key + window), so instances that see the same events store one alert. */
  id: string;
  rule: string;
  severity: string;
  key_kind: string;
  key: string;
  count: number;
  window_start: number;
  /** JSON array of action names taken. */
  actions: string;
  /** Redacted JSON text. */
  details: string;
  instance: string;
  created_at: number;
}

export interface DetectBlocksTable {
  id: string;
  /** `address` | `subject`. */
  kind: string;
  value: string;
  reason: string;
  alert_id: string | null;
  created_by: string;
  created_at: number;
  expires_at: number;
  lifted_at: number | null;
  lifted_by: string | null;
}

export interface AuditTables {
  audit_records: AuditRecordsTable;
  audit_chain_heads: AuditChainHeadsTable;
  audit_actor_index: AuditActorIndexTable;
  audit_checkpoints: AuditCheckpointsTable;
  detect_alerts: DetectAlertsTable;
  detect_blocks: DetectBlocksTable;
}
