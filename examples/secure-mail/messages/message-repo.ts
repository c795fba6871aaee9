/**
 * Data access of the messages service: metadata, content and the saga log. Fixed SQL with
 * bound parameters; every multi-row change is one transaction.
 */
import type { DatabaseSync } from 'node:sqlite';
import { transaction } from '../shared/sqlite.ts';
import type { SealedContent } from '../crypto/envelope.ts';

export type MessageState = 'sending' | 'active' | 'consumed';

export interface MessageMeta {
  id: string;
  sender: string;
  createdAt: number;
  expiresAt: number;
  readOnce: boolean;
  state: MessageState;
  recipients: { subject: string; readAt: number | undefined }[];
}

/** The sealed body, the wrapped data key and the sealed subject (absent only in a row from before subjects were sealed). */
export interface StoredContent extends SealedContent { wrappedKey: Uint8Array; subject: SealedContent | undefined }

export type SagaState = 'running' | 'compensating' | 'completed' | 'compensated';
export interface SagaRecord { id: string; messageId: string; state: SagaState; stepsDone: string[]; input: string; error: string | undefined; updatedAt: number }

type Row = Record<string, unknown>;

export class MessageRepo {
  readonly #meta: DatabaseSync;
  readonly #content: DatabaseSync;

  constructor(meta: DatabaseSync, content: DatabaseSync) {
    this.#meta = meta;
    this.#content = content;
  }

  // ---- content ---------------------------------------------------------------------

  /** Idempotent: a second insert of the same message id keeps the first. */
  putContent(id: string, c: StoredContent, now: number): void {
    this.#content.prepare('INSERT INTO contents (message_id, iv, ciphertext, tag, wrapped_key, created_at, subject_iv, subject_ciphertext, subject_tag) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING')
      .run(id, c.iv, c.ciphertext, c.tag, c.wrappedKey, now, c.subject?.iv ?? null, c.subject?.ciphertext ?? null, c.subject?.tag ?? null);
  }

  getContent(id: string): StoredContent | undefined {
    const r = this.#content.prepare('SELECT iv, ciphertext, tag, wrapped_key, subject_iv, subject_ciphertext, subject_tag FROM contents WHERE message_id = ?').get(id) as Row | undefined;
    if (!r) return undefined;
    const subject = r.subject_ciphertext === null ? undefined
      : { iv: r.subject_iv as Uint8Array, ciphertext: r.subject_ciphertext as Uint8Array, tag: r.subject_tag as Uint8Array };
    return { iv: r.iv as Uint8Array, ciphertext: r.ciphertext as Uint8Array, tag: r.tag as Uint8Array, wrappedKey: r.wrapped_key as Uint8Array, subject };
  }

  deleteContent(id: string): void {
    this.#content.prepare('DELETE FROM contents WHERE message_id = ?').run(id);
  }

  // ---- metadata --------------------------------------------------------------------

  /** Inserts the message (state `sending`) and its recipients; idempotent per id. */
  createMeta(m: Omit<MessageMeta, 'recipients' | 'state'> & { recipients: string[] }): void {
    transaction(this.#meta, () => {
      const inserted = this.#meta.prepare('INSERT INTO messages (id, sender, created_at, expires_at, read_once, state) VALUES (?, ?, ?, ?, ?, \'sending\') ON CONFLICT (id) DO NOTHING')
        .run(m.id, m.sender, m.createdAt, m.expiresAt, m.readOnce ? 1 : 0);
      if (inserted.changes === 0) return;
      const add = this.#meta.prepare('INSERT INTO recipients (message_id, recipient) VALUES (?, ?)');
      for (const r of m.recipients) add.run(m.id, r);
    });
  }

  setState(id: string, from: MessageState, to: MessageState): boolean {
    return this.#meta.prepare('UPDATE messages SET state = ? WHERE id = ? AND state = ?').run(to, id, from).changes === 1;
  }

  deleteMeta(id: string): void {
    this.#meta.prepare('DELETE FROM messages WHERE id = ?').run(id);
  }

  getMeta(id: string): MessageMeta | undefined {
    const r = this.#meta.prepare('SELECT id, sender, created_at, expires_at, read_once, state FROM messages WHERE id = ?').get(id) as Row | undefined;
    if (!r) return undefined;
    const recipients = (this.#meta.prepare('SELECT recipient, read_at FROM recipients WHERE message_id = ? ORDER BY recipient').all(id) as Row[])
      .map((x) => ({ subject: String(x.recipient), readAt: x.read_at === null ? undefined : Number(x.read_at) }));
    return toMeta(r, recipients);
  }

  /**
   * Marks `recipient`'s read, only while the message is still visible and unexpired at `now`
   * (checked here, after the slow key unwrap, not only before it). For a read-once message the
   * first read also moves it to `consumed` in the same transaction; a concurrent second reader
   * loses. @returns false when the text must not be handed out.
   */
  markRead(id: string, recipient: string, readOnce: boolean, now: number): boolean {
    return transaction(this.#meta, () => {
      const live = this.#meta.prepare('SELECT 1 FROM messages WHERE id = ? AND state = \'active\' AND expires_at > ?').get(id, now) !== undefined;
      if (!live) return false;
      if (readOnce && this.#meta.prepare('UPDATE messages SET state = \'consumed\' WHERE id = ? AND state = \'active\'').run(id).changes !== 1) return false;
      this.#meta.prepare('UPDATE recipients SET read_at = COALESCE(read_at, ?) WHERE message_id = ? AND recipient = ?').run(now, id, recipient);
      return true;
    });
  }

  /**
   * Whether a notice about the message may still go out: it is being sent (the notice is a
   * step of the send saga) or visible, and not expired. Not once read-once-consumed, deleted
   * (shredded) or expired.
   */
  isNotifiable(id: string, now: number): boolean {
    return this.#meta.prepare('SELECT 1 FROM messages WHERE id = ? AND state IN (\'sending\', \'active\') AND expires_at > ?').get(id, now) !== undefined;
  }

  /** Read-once messages already read and not yet deleted by the lifetime service. */
  consumedIds(limit = 100): string[] {
    return (this.#meta.prepare('SELECT id FROM messages WHERE state = \'consumed\' ORDER BY id LIMIT ?').all(limit) as Row[]).map((r) => String(r.id));
  }

  /** How many of `sender`'s messages are visible and unexpired at `now` (the per-sender limit). */
  countLive(sender: string, now: number): number {
    return Number((this.#meta.prepare('SELECT COUNT(*) AS n FROM messages WHERE sender = ? AND state = \'active\' AND expires_at > ?').get(sender, now) as Row).n);
  }

  /**
   * Starts the purge of `subject`'s mailbox: records it, then returns every stored message the
   * subject sent or received, in any state but `sending`. Both in one transaction, so every
   * send is either returned here (already visible) or refused completion by `sagaComplete`
   * (begun at or before the purge) and compensated by its saga: none survives the purge.
   */
  beginPurge(subject: string, now: number): string[] {
    return transaction(this.#meta, () => {
      this.#meta.prepare('INSERT INTO purges (subject, purged_at) VALUES (?, ?) ON CONFLICT (subject) DO UPDATE SET purged_at = max(purged_at, excluded.purged_at)').run(subject, now);
      return (this.#meta.prepare('SELECT id FROM messages WHERE state <> \'sending\' AND (sender = ? OR id IN (SELECT message_id FROM recipients WHERE recipient = ?)) ORDER BY id').all(subject, subject) as Row[]).map((r) => String(r.id));
    });
  }

  /** Hides a message at once (it is `consumed`: no longer listed or readable) until it is deleted. */
  hide(id: string): void {
    this.#meta.prepare('UPDATE messages SET state = \'consumed\' WHERE id = ? AND state = \'active\'').run(id);
  }

  /** Visible messages addressed to `recipient` that have not expired at `now`. */
  inbox(recipient: string, now: number): MessageMeta[] {
    const ids = this.#meta.prepare('SELECT m.id FROM messages m JOIN recipients r ON r.message_id = m.id WHERE r.recipient = ? AND m.state = \'active\' AND m.expires_at > ? ORDER BY m.created_at DESC LIMIT 500').all(recipient, now) as Row[];
    return ids.map((x) => this.getMeta(String(x.id))!).filter(Boolean);
  }

  outbox(sender: string, now: number): MessageMeta[] {
    const ids = this.#meta.prepare('SELECT id FROM messages WHERE sender = ? AND state = \'active\' AND expires_at > ? ORDER BY created_at DESC LIMIT 500').all(sender, now) as Row[];
    return ids.map((x) => this.getMeta(String(x.id))!).filter(Boolean);
  }

  // ---- saga log --------------------------------------------------------------------

  sagaStart(id: string, messageId: string, input: string, now: number): void {
    this.#meta.prepare('INSERT INTO sagas (id, message_id, state, steps_done, input, updated_at) VALUES (?, ?, \'running\', \'[]\', ?, ?)').run(id, messageId, input, now);
  }

  sagaUpdate(id: string, state: SagaState, stepsDone: string[], error: string | undefined, now: number): void {
    this.#meta.prepare('UPDATE sagas SET state = ?, steps_done = ?, error = ?, updated_at = ? WHERE id = ?').run(state, JSON.stringify(stepsDone), error ?? null, now, id);
  }

  /**
   * Marks the message visible and the saga completed, atomically — unless the mailbox of its
   * sender or of a recipient was purged since the send began, or the message is no longer
   * `sending`: then nothing changes and it returns false (the saga compensates).
   */
  sagaComplete(id: string, messageId: string, stepsDone: string[], now: number): boolean {
    return transaction(this.#meta, () => {
      const purged = this.#meta.prepare(`SELECT 1 FROM messages m JOIN purges p ON p.purged_at >= m.created_at
        AND (p.subject = m.sender OR p.subject IN (SELECT recipient FROM recipients WHERE message_id = m.id)) WHERE m.id = ?`).get(messageId) !== undefined;
      if (purged) return false;
      if (this.#meta.prepare('UPDATE messages SET state = \'active\' WHERE id = ? AND state = \'sending\'').run(messageId).changes !== 1) return false;
      this.sagaUpdate(id, 'completed', stepsDone, undefined, now);
      return true;
    });
  }

  openSagas(): SagaRecord[] {
    return (this.#meta.prepare('SELECT id, message_id, state, steps_done, input, error, updated_at FROM sagas WHERE state IN (\'running\', \'compensating\') ORDER BY updated_at').all() as Row[]).map(toSaga);
  }

  allSagas(): SagaRecord[] {
    return (this.#meta.prepare('SELECT id, message_id, state, steps_done, input, error, updated_at FROM sagas ORDER BY updated_at').all() as Row[]).map(toSaga);
  }

  getSaga(id: string): SagaRecord | undefined {
    const r = this.#meta.prepare('SELECT id, message_id, state, steps_done, input, error, updated_at FROM sagas WHERE id = ?').get(id) as Row | undefined;
    return r ? toSaga(r) : undefined;
  }

  /** Saga input (who, to whom, until when; never the subject or body) is cleared once the saga ends. */
  sagaClearInput(id: string): void {
    this.#meta.prepare('UPDATE sagas SET input = \'{}\' WHERE id = ?').run(id);
  }

  counts(): { messages: number; contents: number; openSagas: number } {
    return {
      messages: Number((this.#meta.prepare('SELECT COUNT(*) AS n FROM messages').get() as Row).n),
      contents: Number((this.#content.prepare('SELECT COUNT(*) AS n FROM contents').get() as Row).n),
      openSagas: Number((this.#meta.prepare('SELECT COUNT(*) AS n FROM sagas WHERE state IN (\'running\', \'compensating\')').get() as Row).n),
    };
  }
}

function toMeta(r: Row, recipients: MessageMeta['recipients']): MessageMeta {
  return {
    id: String(r.id), sender: String(r.sender), createdAt: Number(r.created_at), expiresAt: Number(r.expires_at),
    readOnce: Number(r.read_once) === 1, state: r.state as MessageState, recipients,
  };
}

function toSaga(r: Row): SagaRecord {
  return {
    id: String(r.id), messageId: String(r.message_id), state: r.state as SagaState, stepsDone: JSON.parse(String(r.steps_done)) as string[],
    input: String(r.input), error: (r.error as string | null) ?? undefined, updatedAt: Number(r.updated_at),
  };
}
