/**
 * The audit record: what the tamper-evident log stores for one event. Field by field it
 * is the brief's schema (time, sequence, instance, event, request/trace ids, actor, action,
 * resource, outcome, decision, client address, redacted details, previous hash, hash).
 *
 * `reasons` and `details` are kept as the JSON text that was hashed, so verification
 * hashes exactly the stored bytes and never depends on a JSON round trip.
 */

/** Every outcome a record can have. */
export const AUDIT_OUTCOMES = ['success', 'failure', 'denied', 'error', 'info'] as const;
export type AuditOutcome = typeof AUDIT_OUTCOMES[number];

/** A record before it has a place in a chain (what the event mapper produces). */
export interface AuditDraft {
  /** Epoch milliseconds (the event's publication time). */
  time: number;
  instance: string;
  /** Event name, e.g. `gateway.request`. */
  event: string;
  /** Envelope id (UUIDv7) of the source event. */
  eventId: string;
  requestId: string | null;
  traceId: string | null;
  /** Subject (user id, service id, user name for failed logins…). */
  actor: string | null;
  /** `user` | `service` | `anonymous` | `system` | … */
  actorKind: string | null;
  action: string;
  resource: string | null;
  outcome: AuditOutcome;
  decisionId: string | null;
  /** JSON array text of decision reasons, or null. */
  reasons: string | null;
  clientAddress: string | null;
  /** Redacted JSON object text. */
  details: string;
}

/** A record in its chain, as stored. */
export interface AuditRecord extends AuditDraft {
  chain: string;
  seq: number;
  prevHash: string;
  hash: string;
}

/** Where a chain ends. */
export interface ChainHead {
  chain: string;
  seq: number;
  hash: string;
}

/** A signed checkpoint as stored and exported. */
export interface AuditCheckpoint {
  chain: string;
  seq: number;
  hash: string;
  /** Epoch ms when it was signed. */
  time: number;
  instance: string;
  /** Key id (RFC 7638 thumbprint) of the signing key. */
  kid: string;
  /** Compact JWS (EdDSA) whose payload is the canonical JSON of `{ chain, seq, hash, time, instance }`. */
  jws: string;
}
