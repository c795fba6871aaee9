/**
 * The envelope's binding: a message's data key seals its text and its subject, each bound to
 * the field and the message id, so the one key cannot be used to pass one value off as another.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateDataKey, openField, sealField } from './envelope.ts';

const A = `msg_${'a'.repeat(32)}`;
const B = `msg_${'b'.repeat(32)}`;

describe('secure mail envelope', () => {
  it('opens a subject and a text sealed under one data key, each as what it was sealed as', () => {
    const key = generateDataKey();
    const subject = sealField(key, Buffer.from('Quarterly numbers'), A, 'subject');
    const body = sealField(key, Buffer.from('revenue is 42'), A, 'content');
    assert.equal(openField(key, subject, A, 'subject').toString(), 'Quarterly numbers');
    assert.equal(openField(key, body, A, 'content').toString(), 'revenue is 42');
  });

  it('refuses a subject ciphertext opened as the text of the same message (same key: only the AAD tells them apart)', () => {
    const key = generateDataKey();
    const subject = sealField(key, Buffer.from('Quarterly numbers'), A, 'subject');
    const body = sealField(key, Buffer.from('revenue is 42'), A, 'content');
    assert.throws(() => openField(key, subject, A, 'content'), { code: 'MAIL_DECRYPT_FAILED' });
    assert.throws(() => openField(key, body, A, 'subject'), { code: 'MAIL_DECRYPT_FAILED' });
  });

  it('refuses a subject moved to another message, even one sealed under the same key', () => {
    const key = generateDataKey();
    const subject = sealField(key, Buffer.from('Quarterly numbers'), A, 'subject');
    assert.throws(() => openField(key, subject, B, 'subject'), { code: 'MAIL_DECRYPT_FAILED' });
    assert.throws(() => openField(generateDataKey(), subject, A, 'subject'), { code: 'MAIL_DECRYPT_FAILED' });
  });

  it('refuses a subject with any byte altered', () => {
    const key = generateDataKey();
    const sealed = sealField(key, Buffer.from('Quarterly numbers'), A, 'subject');
    const ciphertext = Buffer.from(sealed.ciphertext);
    ciphertext[0]! ^= 1;
    assert.throws(() => openField(key, { ...sealed, ciphertext }, A, 'subject'), { code: 'MAIL_DECRYPT_FAILED' });
  });
});
