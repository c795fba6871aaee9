/**
 * Moves a data directory from before subjects were sealed to sealed subjects. Such a
 * directory keeps each subject in plain text in `messages.subject` (metadata.db), where a
 * backup keeps it for good and destroying the message's key does not reach it.
 *
 * At start, in one transaction, the plain-text subjects leave `messages` for a holding table
 * (`legacy_subjects`, deleted with its message) and the column is dropped, so the schema is
 * the current one at once. Then, as soon as the key service answers, each held subject is
 * sealed under its message's data key (unwrapped like a read does) into the message's content
 * row, and its plain text deleted; the holding table is dropped once empty. A message whose
 * key or content is already gone is being shredded: its subject is deleted, not sealed.
 * Both databases run with secure_delete, so the plain text is overwritten in the files.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { Logger } from 'pino';
import { sealField } from '../crypto/envelope.ts';
import type { KeyService } from '../crypto/key-service.ts';
import { MailError } from '../shared/errors.ts';
import { transaction } from '../shared/sqlite.ts';
import type { MessageRepo } from './message-repo.ts';

const hasColumn = (db: DatabaseSync, table: string, column: string) =>
  (db.prepare('SELECT name FROM pragma_table_info(?)').all(table) as { name: string }[]).some((c) => c.name === column);
const hasTable = (db: DatabaseSync, table: string) =>
  db.prepare('SELECT 1 FROM sqlite_master WHERE type = \'table\' AND name = ?').get(table) !== undefined;

export class LegacySubjects {
  readonly #meta: DatabaseSync;
  readonly #content: DatabaseSync;

  /** Brings both files to the current schema (sync, before the service serves anything). */
  constructor(meta: DatabaseSync, content: DatabaseSync) {
    this.#meta = meta;
    this.#content = content;
    if (!hasColumn(content, 'contents', 'subject_ciphertext')) {
      transaction(content, () => {
        content.exec('ALTER TABLE contents ADD COLUMN subject_iv BLOB');
        content.exec('ALTER TABLE contents ADD COLUMN subject_ciphertext BLOB');
        content.exec('ALTER TABLE contents ADD COLUMN subject_tag BLOB');
      });
    }
    if (hasColumn(meta, 'messages', 'subject')) {
      transaction(meta, () => {
        meta.exec(`CREATE TABLE IF NOT EXISTS legacy_subjects (
          message_id TEXT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
          subject TEXT NOT NULL)`);
        meta.exec('INSERT OR IGNORE INTO legacy_subjects (message_id, subject) SELECT id, subject FROM messages WHERE subject <> \'\'');
        meta.exec('ALTER TABLE messages DROP COLUMN subject');
      });
    }
  }

  /** Subjects still in plain text. */
  count(): number {
    if (!hasTable(this.#meta, 'legacy_subjects')) return 0;
    return Number((this.#meta.prepare('SELECT COUNT(*) AS n FROM legacy_subjects').get() as { n: number }).n);
  }

  /** A message's subject not yet sealed, for a read that comes before its turn. */
  get(messageId: string): string | undefined {
    if (!hasTable(this.#meta, 'legacy_subjects')) return undefined;
    const r = this.#meta.prepare('SELECT subject FROM legacy_subjects WHERE message_id = ?').get(messageId) as { subject: string } | undefined;
    return r?.subject;
  }

  /**
   * Seals every held subject it can. A failure of the key service leaves that subject for the
   * next run. @returns how many are still held.
   */
  async sealAll(repo: MessageRepo, keys: KeyService, logger: Logger): Promise<number> {
    if (!hasTable(this.#meta, 'legacy_subjects')) return 0;
    const held = this.#meta.prepare('SELECT message_id, subject FROM legacy_subjects ORDER BY message_id').all() as { message_id: string; subject: string }[];
    for (const { message_id: id, subject } of held) {
      try {
        const stored = repo.getContent(id);
        if (stored && !stored.subject) {
          const dataKey = await keys.unwrap(id, stored.wrappedKey);
          try {
            const sealed = sealField(dataKey, Buffer.from(subject, 'utf8'), id, 'subject');
            this.#content.prepare('UPDATE contents SET subject_iv = ?, subject_ciphertext = ?, subject_tag = ? WHERE message_id = ? AND subject_ciphertext IS NULL')
              .run(sealed.iv, sealed.ciphertext, sealed.tag, id);
          } finally {
            dataKey.fill(0);
          }
        }
        // Sealed (now or by an earlier run that died before this delete), or no content to seal it with.
        this.#meta.prepare('DELETE FROM legacy_subjects WHERE message_id = ?').run(id);
      } catch (err) {
        if (err instanceof MailError && (err.code === 'MAIL_KEY_DESTROYED' || err.code === 'MAIL_KEY_UNKNOWN')) {
          // The message is being shredded: its subject goes with its key.
          this.#meta.prepare('DELETE FROM legacy_subjects WHERE message_id = ?').run(id);
          continue;
        }
        logger.warn({ err, messageId: id }, 'could not seal a plain-text subject; trying again later');
      }
    }
    const left = this.count();
    if (left === 0) {
      this.#meta.exec('DROP TABLE IF EXISTS legacy_subjects');
      logger.info({ sealed: held.length }, 'every plain-text subject from before subjects were sealed is sealed or deleted');
    }
    return left;
  }
}
