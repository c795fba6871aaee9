/**
 * Two-person approvals (src/approvals): one row per held request, bound to what it asked
 * for. Timestamps are epoch milliseconds in `bigint` columns (docs/store.md conventions).
 */
import type { ColumnType } from 'kysely';

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'used' | 'expired';

export interface ApprovalsTable {
  /** `apv_` + 128 random bits (base64url): unguessable, it is all an approver is sent. */
  id: string;
  route_id: string;
  requester: string;
  /** Issuer of the requester's credential ('' when none), so a subject of another issuer is another person. */
  requester_issuer: string;
  method: string;
  host: string;
  /** Normalized path, as routed and forwarded. */
  path: string;
  /** Raw query string without '?', as forwarded. */
  query: string;
  /** Hex SHA-256 of the exact body bytes. */
  body_sha256: string;
  body_bytes: number;
  /** Content-Type as sent, trimmed (several fields joined by LF, which no field value holds); null when absent. */
  content_type: string | null;
  /** Content-Encoding, the same way. */
  content_encoding: string | null;
  /**
   * The held request's body bytes, base64url, for the approver to read (at most the route's
   * `approval.maxBodyBytes`), while the approval can still be used: null once it is used,
   * denied or expired (`body_erased_at`), and for rows stored before bodies were kept. Never in an event.
   */
  body: string | null;
  /** When the body was erased (the approval was used, denied or expired); null while it is kept or was never stored. */
  body_erased_at: number | null;
  status: ApprovalStatus;
  approver: string | null;
  created_at: ColumnType<number, number, never>;
  /** Until when a pending request may be decided. */
  expires_at: number;
  decided_at: number | null;
  /** Until when an approved request may be sent (set on approval). */
  use_by: number | null;
  used_at: number | null;
  /** Request id of the request that used it (null until used, and again once a refused request gives it back). */
  used_request_id: string | null;
}

export interface ApprovalTables {
  approvals: ApprovalsTable;
}
