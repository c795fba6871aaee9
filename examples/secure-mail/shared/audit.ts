/**
 * Every access attempt, allowed or not, is an audit event. Each service appends it to its
 * own audit table (append-only by convention: nothing updates or deletes it) and to its
 * structured log, and hands it to `publish` — the bus when the deployment has a shared one.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Logger } from 'pino';

export interface MailAuditEvent {
  /** What was attempted, e.g. `message.read`, `message.send`, `connect`. */
  action: string;
  outcome: 'allowed' | 'denied' | 'failed';
  /** Who tried: assertion subject, peer SPIFFE id, or `anonymous`. */
  actor: string;
  messageId?: string | undefined;
  /** Stable code of the refusal or failure. */
  reason?: string | undefined;
  requestId?: string | undefined;
}

export interface StoredAuditEvent extends MailAuditEvent { seq: number; service: string; at: string }

export const AUDIT_SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  action TEXT NOT NULL,
  outcome TEXT NOT NULL,
  actor TEXT NOT NULL,
  message_id TEXT,
  reason TEXT,
  request_id TEXT
);`;

export class AuditLog {
  readonly service: string;
  readonly #insert: StatementSync;
  readonly #list: StatementSync;
  readonly #logger: Logger;
  readonly #publish: ((event: StoredAuditEvent) => void) | undefined;

  constructor(options: { service: string; db: DatabaseSync; logger: Logger; publish?: (event: StoredAuditEvent) => void }) {
    this.service = options.service;
    options.db.exec(AUDIT_SCHEMA);
    this.#insert = options.db.prepare('INSERT INTO audit_events (at, action, outcome, actor, message_id, reason, request_id) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq');
    this.#list = options.db.prepare('SELECT seq, at, action, outcome, actor, message_id, reason, request_id FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?');
    this.#logger = options.logger.child({ audit: true });
    this.#publish = options.publish;
  }

  /** Records the event; never throws (an audit failure is logged loudly instead). */
  record(event: MailAuditEvent): void {
    const at = new Date().toISOString();
    try {
      const row = this.#insert.get(at, event.action, event.outcome, event.actor, event.messageId ?? null, event.reason ?? null, event.requestId ?? null) as { seq: number };
      const stored: StoredAuditEvent = { ...event, seq: Number(row.seq), service: this.service, at };
      this.#logger.info({ event: stored }, 'audit');
      this.#publish?.(stored);
    } catch (err) {
      this.#logger.error({ err, event }, 'AUDIT WRITE FAILED');
    }
  }

  /** Events after `afterSeq`, oldest first (tests and the audit export). */
  list(afterSeq = 0, limit = 1000): StoredAuditEvent[] {
    return (this.#list.all(afterSeq, limit) as Record<string, unknown>[]).map((r) => ({
      seq: Number(r.seq), service: this.service, at: String(r.at), action: String(r.action), outcome: r.outcome as MailAuditEvent['outcome'],
      actor: String(r.actor), messageId: (r.message_id as string | null) ?? undefined, reason: (r.reason as string | null) ?? undefined,
      requestId: (r.request_id as string | null) ?? undefined,
    }));
  }
}
