/**
 * Secure mail: a subject is sealed under its own message's key and bound to the field and the
 * message id. Someone who can write content.db (a restored or edited backup, a rogue operator)
 * cannot make a recipient's read show another message's subject, nor show a subject as the
 * text or the text as the subject: the read is refused, nothing is revealed or consumed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { startMailFabric, type MailFabric } from './secure-mail-support/fabric.ts';

type Sealed = { iv: Uint8Array; ciphertext: Uint8Array; tag: Uint8Array };

describe('secure mail: swapped subject ciphertexts', () => {
  let f: MailFabric;
  let db: DatabaseSync;
  before(async () => {
    f = await startMailFabric();
    db = new DatabaseSync(f.messages.files.content);
    db.exec('PRAGMA busy_timeout = 5000');
  });
  after(async () => { db?.close(); await f?.close(); });

  const send = async (subject: string, body: string, readOnce = false) => {
    const r = await f.user('alice', 'POST', '/api/mail/messages', { to: ['bob'], subject, body, lifetimeSeconds: 3600, readOnce });
    assert.equal(r.status, 201, r.text);
    return (r.body as { id: string }).id;
  };
  const field = (id: string, which: 'subject' | 'body'): Sealed => {
    const cols = which === 'subject' ? 'subject_iv AS iv, subject_ciphertext AS ciphertext, subject_tag AS tag' : 'iv, ciphertext, tag';
    return db.prepare(`SELECT ${cols} FROM contents WHERE message_id = ?`).get(id) as Sealed;
  };
  const put = (id: string, which: 'subject' | 'body', v: Sealed) => {
    const sql = which === 'subject'
      ? 'UPDATE contents SET subject_iv = ?, subject_ciphertext = ?, subject_tag = ? WHERE message_id = ?'
      : 'UPDATE contents SET iv = ?, ciphertext = ?, tag = ? WHERE message_id = ?';
    db.prepare(sql).run(v.iv, v.ciphertext, v.tag, id);
  };
  const refused = async (id: string, secrets: string[]) => {
    const r = await f.user('bob', 'POST', `/api/mail/messages/${id}/read`);
    assert.equal(r.status, 500, r.text);
    assert.equal((r.body as { error: { code: string } }).error.code, 'MAIL_DECRYPT_FAILED');
    for (const s of secrets) assert.ok(!r.text.includes(s), `the refused read revealed ${s}`);
  };

  it('refuses a read whose subject ciphertext was swapped with another message\'s', async () => {
    const a = await send('subject of A', 'text of A');
    const b = await send('subject of B', 'text of B');
    const sa = field(a, 'subject');
    put(a, 'subject', field(b, 'subject'));
    put(b, 'subject', sa);
    await refused(a, ['subject of B', 'text of A']);
    await refused(b, ['subject of A', 'text of B']);
  });

  it('refuses a read whose subject and text ciphertexts were swapped within the message (same key)', async () => {
    const id = await send('the subject', 'the text');
    const subject = field(id, 'subject');
    put(id, 'subject', field(id, 'body'));
    put(id, 'body', subject);
    await refused(id, ['the subject', 'the text']);
  });

  it('a refused read of a read-once message does not consume it: put back, it is read once', async () => {
    const id = await send('once subject', 'once text', true);
    const original = field(id, 'subject');
    put(id, 'subject', field(id, 'body'));
    await refused(id, ['once subject', 'once text']);
    put(id, 'subject', original);
    const read = await f.user('bob', 'POST', `/api/mail/messages/${id}/read`);
    assert.equal(read.status, 200, read.text);
    assert.equal((read.body as { subject: string }).subject, 'once subject');
    assert.equal((await f.user('bob', 'POST', `/api/mail/messages/${id}/read`)).status, 410);
  });
});
