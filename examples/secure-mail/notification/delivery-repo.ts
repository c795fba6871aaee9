/**
 * Deliveries (one per recipient and message), with their retry state, in the notification
 * service's own file. A row says who is told about whose message, so it lives only while the
 * notice is still to be sent: once it is sent, given up or cancelled the row is deleted (the
 * outcome stays in the audit log, by message id only). Kept, it would name sender and
 * recipient long after the message itself was shredded.
 */
import type { DatabaseSync } from 'node:sqlite';
import { transaction } from '../shared/sqlite.ts';

export const NOTIFICATION_SCHEMA = `
CREATE TABLE IF NOT EXISTS deliveries (
  message_id TEXT NOT NULL,
  recipient TEXT NOT NULL,
  sender TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  channel TEXT NOT NULL,
  -- Only 'pending' rows are kept now (settled ones are deleted); the other states, provider_id
  -- and delivered_at stay in the schema for files an earlier version wrote.
  state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'cancelled')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  provider_id TEXT,
  last_error TEXT,
  delivered_at INTEGER,
  PRIMARY KEY (message_id, recipient, channel)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at);
`;

export interface Delivery {
  messageId: string; recipient: string; sender: string; expiresAt: number; channel: string;
  state: 'pending' | 'delivered' | 'failed' | 'cancelled'; attempts: number; nextAttemptAt: number;
  providerId: string | undefined; lastError: string | undefined;
}

type Row = Record<string, unknown>;
const toDelivery = (r: Row): Delivery => ({
  messageId: String(r.message_id), recipient: String(r.recipient), sender: String(r.sender), expiresAt: Number(r.expires_at), channel: String(r.channel),
  state: r.state as Delivery['state'], attempts: Number(r.attempts), nextAttemptAt: Number(r.next_attempt_at),
  providerId: (r.provider_id as string | null) ?? undefined, lastError: (r.last_error as string | null) ?? undefined,
});

export class DeliveryRepo {
  readonly #db: DatabaseSync;
  constructor(db: DatabaseSync) {
    this.#db = db;
    db.exec(NOTIFICATION_SCHEMA);
    // Settled rows an earlier version kept.
    db.exec('DELETE FROM deliveries WHERE state <> \'pending\'');
  }

  /** Idempotent per (message, recipient, channel). */
  enqueue(n: { messageId: string; sender: string; recipients: string[]; expiresAt: number; channel: string }, now: number): void {
    transaction(this.#db, () => {
      const add = this.#db.prepare('INSERT INTO deliveries (message_id, recipient, sender, expires_at, channel, state, next_attempt_at) VALUES (?, ?, ?, ?, ?, \'pending\', ?) ON CONFLICT DO NOTHING');
      for (const r of n.recipients) add.run(n.messageId, r, n.sender, n.expiresAt, n.channel, now);
    });
  }

  /** Forgets the message's notices still to be sent. */
  cancel(messageId: string): void {
    this.#db.prepare('DELETE FROM deliveries WHERE message_id = ?').run(messageId);
  }

  due(now: number, limit = 50): Delivery[] {
    return (this.#db.prepare('SELECT * FROM deliveries WHERE state = \'pending\' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?').all(now, limit) as Row[]).map(toDelivery);
  }

  countPending(): number {
    return Number((this.#db.prepare('SELECT COUNT(*) AS n FROM deliveries WHERE state = \'pending\'').get() as Row).n);
  }

  forMessage(messageId: string): Delivery[] {
    return (this.#db.prepare('SELECT * FROM deliveries WHERE message_id = ? ORDER BY recipient').all(messageId) as Row[]).map(toDelivery);
  }

  /** Sent, or given up: nothing is left to do, so nothing is kept. */
  settled(d: Delivery): void {
    this.#db.prepare('DELETE FROM deliveries WHERE message_id = ? AND recipient = ? AND channel = ?').run(d.messageId, d.recipient, d.channel);
  }

  retry(d: Delivery, nextAttemptAt: number, error: string): void {
    this.#db.prepare('UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE message_id = ? AND recipient = ? AND channel = ? AND state = \'pending\'')
      .run(nextAttemptAt, error.slice(0, 500), d.messageId, d.recipient, d.channel);
  }
}
