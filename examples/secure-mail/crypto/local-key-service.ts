/**
 * A KeyService on the key service's own SQLite file. KEKs are random 256-bit keys, stored
 * sealed (AES-256-GCM) under the service's master key with the key id as AAD; data keys are
 * wrapped with AES-256-GCM under the KEK, again bound to the key id.
 *
 * Destroy deletes the sealed KEK and keeps a tombstone, so a destroyed id can never be
 * re-created (a replayed or late `wrap` cannot resurrect a message). The database runs with
 * `secure_delete` and no WAL, so the deleted KEK bytes are overwritten in the file itself.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { MailError } from '../shared/errors.ts';
import { transaction } from '../shared/sqlite.ts';
import { KEY_ID_PATTERN, type KeyService } from './key-service.ts';

export const KEY_SERVICE_SCHEMA = `
CREATE TABLE IF NOT EXISTS keks (
  key_id TEXT PRIMARY KEY,
  sealed BLOB NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS destroyed_keys (
  key_id TEXT PRIMARY KEY,
  destroyed_at TEXT NOT NULL
);`;

const VERSION = 1;

/** AES-256-GCM with a version byte: `1 ‖ iv ‖ tag ‖ ciphertext`. */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
}

export function unseal(key: Uint8Array, sealed: Uint8Array, aad: string): Buffer {
  const buf = Buffer.from(sealed);
  if (buf.length < 1 + 12 + 16 || buf[0] !== VERSION) throw new Error('sealed value has an unknown format');
  const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(1, 13));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(buf.subarray(13, 29));
  return Buffer.concat([decipher.update(buf.subarray(29)), decipher.final()]);
}

function checkKeyId(keyId: string): void {
  if (!KEY_ID_PATTERN.test(keyId)) throw new MailError('MAIL_INPUT_INVALID', { detail: 'key id has the wrong form' });
}

export class LocalKeyService implements KeyService {
  readonly #db: DatabaseSync;
  readonly #masterKey: Uint8Array;
  readonly #get: StatementSync;
  readonly #insert: StatementSync;
  readonly #isDestroyed: StatementSync;
  readonly #delete: StatementSync;
  readonly #tombstone: StatementSync;

  /** @param masterKey 32 bytes; seals every KEK at rest. */
  constructor(db: DatabaseSync, masterKey: Uint8Array) {
    if (masterKey.length !== 32) throw new Error('the key service master key must be 32 bytes');
    db.exec(KEY_SERVICE_SCHEMA);
    this.#db = db;
    this.#masterKey = masterKey;
    this.#get = db.prepare('SELECT sealed FROM keks WHERE key_id = ?');
    this.#insert = db.prepare('INSERT INTO keks (key_id, sealed, created_at) VALUES (?, ?, ?) ON CONFLICT (key_id) DO NOTHING');
    this.#isDestroyed = db.prepare('SELECT 1 AS d FROM destroyed_keys WHERE key_id = ?');
    this.#delete = db.prepare('DELETE FROM keks WHERE key_id = ?');
    this.#tombstone = db.prepare('INSERT INTO destroyed_keys (key_id, destroyed_at) VALUES (?, ?) ON CONFLICT (key_id) DO NOTHING');
  }

  #kek(keyId: string, create: boolean): Buffer {
    return transaction(this.#db, () => {
      if (this.#isDestroyed.get(keyId)) throw new MailError('MAIL_KEY_DESTROYED', { detail: `key ${keyId} was destroyed` });
      let row = this.#get.get(keyId) as { sealed: Uint8Array } | undefined;
      if (!row) {
        if (!create) throw new MailError('MAIL_KEY_UNKNOWN', { detail: `no key ${keyId}` });
        this.#insert.run(keyId, seal(this.#masterKey, randomBytes(32), `kek/${keyId}`), new Date().toISOString());
        row = this.#get.get(keyId) as { sealed: Uint8Array };
      }
      try {
        return unseal(this.#masterKey, row.sealed, `kek/${keyId}`);
      } catch (err) {
        throw new MailError('MAIL_INTERNAL', { detail: `KEK ${keyId} did not unseal (wrong master key or altered row)`, cause: err });
      }
    });
  }

  async wrap(keyId: string, dataKey: Uint8Array): Promise<Uint8Array> {
    checkKeyId(keyId);
    if (dataKey.length !== 32) throw new MailError('MAIL_INPUT_INVALID', { detail: 'data keys are 32 bytes' });
    const kek = this.#kek(keyId, true);
    try { return seal(kek, dataKey, `dek/${keyId}`); } finally { kek.fill(0); }
  }

  async unwrap(keyId: string, wrapped: Uint8Array): Promise<Uint8Array> {
    checkKeyId(keyId);
    const kek = this.#kek(keyId, false);
    try {
      return unseal(kek, wrapped, `dek/${keyId}`);
    } catch (err) {
      throw new MailError('MAIL_DECRYPT_FAILED', { detail: `wrapped key for ${keyId} did not authenticate`, cause: err });
    } finally {
      kek.fill(0);
    }
  }

  /** How many KEKs are live and how many were destroyed (operations and tests). */
  stats(): { live: number; destroyed: number } {
    const live = this.#db.prepare('SELECT COUNT(*) AS n FROM keks').get() as { n: number };
    const destroyed = this.#db.prepare('SELECT COUNT(*) AS n FROM destroyed_keys').get() as { n: number };
    return { live: Number(live.n), destroyed: Number(destroyed.n) };
  }

  async destroy(keyId: string): Promise<void> {
    checkKeyId(keyId);
    transaction(this.#db, () => {
      this.#tombstone.run(keyId, new Date().toISOString());
      this.#delete.run(keyId);
    });
  }
}
