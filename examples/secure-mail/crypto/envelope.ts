/**
 * Envelope encryption of message content: each message gets its own random 256-bit data
 * key; content is sealed with AES-256-GCM (node:crypto) and bound to the message id as
 * additional authenticated data, so a ciphertext moved to another message does not open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { MailError } from '../shared/errors.ts';

export interface SealedContent {
  /** 96-bit random nonce; a data key seals exactly one content, so it never repeats. */
  iv: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
}

/** A fresh random data key (32 bytes). */
export function generateDataKey(): Buffer {
  return randomBytes(32);
}

export function sealContent(dataKey: Uint8Array, plaintext: Uint8Array, messageId: string): SealedContent {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
  cipher.setAAD(Buffer.from(`secure-mail/content/${messageId}`));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext, tag: cipher.getAuthTag() };
}

/** @throws MailError MAIL_DECRYPT_FAILED on a wrong key, another message's content, or any altered byte. */
export function openContent(dataKey: Uint8Array, sealed: SealedContent, messageId: string): Buffer {
  try {
    const decipher = createDecipheriv('aes-256-gcm', dataKey, sealed.iv);
    decipher.setAAD(Buffer.from(`secure-mail/content/${messageId}`));
    decipher.setAuthTag(sealed.tag);
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
  } catch (err) {
    throw new MailError('MAIL_DECRYPT_FAILED', { detail: `content of ${messageId} did not authenticate`, cause: err });
  }
}
