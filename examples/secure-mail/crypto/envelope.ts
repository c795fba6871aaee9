/**
 * Envelope encryption of what a sender writes: each message gets its own random 256-bit data
 * key, which seals both fields of the message — the body and the subject — with AES-256-GCM
 * (node:crypto). Each seal is bound as additional authenticated data to the field and the
 * message id (`secure-mail/<field>/<message id>`), so a ciphertext moved to another message,
 * or from the subject to the body of the same message (same key), does not open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { MailError } from '../shared/errors.ts';

export interface SealedContent {
  /**
   * 96-bit random nonce. A data key seals exactly two values (body and subject), so a random
   * nonce is far inside GCM's bound for random nonces under one key.
   */
  iv: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
}

/** The sealed fields of a message. The AAD names the field: a value sealed as one does not open as the other. */
export type SealedField = 'content' | 'subject';

/** A fresh random data key (32 bytes). */
export function generateDataKey(): Buffer {
  return randomBytes(32);
}

const aad = (field: SealedField, messageId: string) => Buffer.from(`secure-mail/${field}/${messageId}`);

export function sealField(dataKey: Uint8Array, plaintext: Uint8Array, messageId: string, field: SealedField): SealedContent {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
  cipher.setAAD(aad(field, messageId));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext, tag: cipher.getAuthTag() };
}

/** @throws MailError MAIL_DECRYPT_FAILED on a wrong key, another message's or field's value, or any altered byte. */
export function openField(dataKey: Uint8Array, sealed: SealedContent, messageId: string, field: SealedField): Buffer {
  try {
    const decipher = createDecipheriv('aes-256-gcm', dataKey, sealed.iv);
    decipher.setAAD(aad(field, messageId));
    decipher.setAuthTag(sealed.tag);
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
  } catch (err) {
    throw new MailError('MAIL_DECRYPT_FAILED', { detail: `${field} of ${messageId} did not authenticate`, cause: err });
  }
}

export function sealContent(dataKey: Uint8Array, plaintext: Uint8Array, messageId: string): SealedContent {
  return sealField(dataKey, plaintext, messageId, 'content');
}

/** @throws MailError MAIL_DECRYPT_FAILED on a wrong key, another message's content, or any altered byte. */
export function openContent(dataKey: Uint8Array, sealed: SealedContent, messageId: string): Buffer {
  return openField(dataKey, sealed, messageId, 'content');
}
