/** The lifetime service's schedules, in its own database file. */
import type { DatabaseSync } from 'node:sqlite';

export const LIFETIME_SCHEMA = `
CREATE TABLE IF NOT EXISTS schedules (
  message_id TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL,
  -- scheduled: waiting or retrying; done: key destroyed and message deleted (kept as a tombstone)
  state TEXT NOT NULL CHECK (state IN ('scheduled', 'done')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  done_at INTEGER
);
CREATE INDEX IF NOT EXISTS schedules_due ON schedules (state, next_attempt_at);
`;

export interface Schedule { messageId: string; expiresAt: number; state: 'scheduled' | 'done'; attempts: number; nextAttemptAt: number; lastError: string | undefined }

type Row = Record<string, unknown>;
const toSchedule = (r: Row): Schedule => ({
  messageId: String(r.message_id), expiresAt: Number(r.expires_at), state: r.state as Schedule['state'], attempts: Number(r.attempts),
  nextAttemptAt: Number(r.next_attempt_at), lastError: (r.last_error as string | null) ?? undefined,
});

export class ScheduleRepo {
  readonly #db: DatabaseSync;
  constructor(db: DatabaseSync) { this.#db = db; db.exec(LIFETIME_SCHEMA); }

  /** Creates or moves a schedule; a message already deleted stays deleted (no resurrection). */
  upsert(messageId: string, expiresAt: number): void {
    this.#db.prepare(`INSERT INTO schedules (message_id, expires_at, state, next_attempt_at) VALUES (?, ?, 'scheduled', ?)
      ON CONFLICT (message_id) DO UPDATE SET expires_at = excluded.expires_at, next_attempt_at = excluded.next_attempt_at WHERE schedules.state = 'scheduled'`)
      .run(messageId, expiresAt, expiresAt);
  }

  /** Saga compensation: the message never existed. */
  cancel(messageId: string): void {
    this.#db.prepare('DELETE FROM schedules WHERE message_id = ? AND state = \'scheduled\'').run(messageId);
  }

  get(messageId: string): Schedule | undefined {
    const r = this.#db.prepare('SELECT * FROM schedules WHERE message_id = ?').get(messageId) as Row | undefined;
    return r ? toSchedule(r) : undefined;
  }

  due(now: number, limit = 100): Schedule[] {
    return (this.#db.prepare('SELECT * FROM schedules WHERE state = \'scheduled\' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?').all(now, limit) as Row[]).map(toSchedule);
  }

  countScheduled(): number {
    return Number((this.#db.prepare('SELECT COUNT(*) AS n FROM schedules WHERE state = \'scheduled\'').get() as Row).n);
  }

  markDone(messageId: string, now: number): void {
    this.#db.prepare('UPDATE schedules SET state = \'done\', done_at = ?, last_error = NULL WHERE message_id = ?').run(now, messageId);
  }

  markFailed(messageId: string, attempts: number, nextAttemptAt: number, error: string): void {
    this.#db.prepare('UPDATE schedules SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE message_id = ?').run(attempts, nextAttemptAt, error.slice(0, 500), messageId);
  }
}
