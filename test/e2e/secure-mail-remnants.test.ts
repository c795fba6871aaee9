/**
 * Secure mail: what a read-once message leaves behind once it has been read. The key must be
 * destroyed and the rows deleted soon after the read even when the lifetime service could not
 * be told at that moment, and nothing the sender wrote (not even the subject) may stay
 * readable in the messages service's files after deletion — nor, in the notification service's,
 * who was told about whose message.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { startLifetimeService } from '../../examples/secure-mail/lifetime/lifetime-service.ts';
import { filesHolding as filesHoldingIn } from './secure-mail-support/files-holding.ts';
import { startMailFabric, USERS, type MailFabric } from './secure-mail-support/fabric.ts';

async function until(check: () => boolean, ms = 5_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (check()) return true;
  return check();
}

async function sendReadOnce(f: MailFabric, subject: string): Promise<string> {
  const sent = await f.user('alice', 'POST', '/api/mail/messages', { to: ['bob'], subject, body: 'read me once', lifetimeSeconds: 3600, readOnce: true });
  assert.equal(sent.status, 201);
  return (sent.body as { id: string }).id;
}

describe('secure mail: a read-once message read while the lifetime service is down', () => {
  let f: MailFabric;
  before(async () => { f = await startMailFabric(); });
  after(async () => { await f?.close(); });

  it('is shredded once the lifetime service is back, not left with its key until its expiry', async () => {
    const id = await sendReadOnce(f, 'outage');
    await f.lifetime.close();
    assert.equal((await f.user('bob', 'POST', `/api/mail/messages/${id}/read`)).status, 200);
    // The request for deletion goes out after the answer; let it fail against the stopped service.
    await sleep(500);

    f.lifetime = await startLifetimeService(f.configs.lifetime, pino({ level: 'silent' }));
    f.upstream('lifetime').url = `https://127.0.0.1:${f.lifetime.port}`;
    // The message is due in an hour; only a renewed request from the messages service deletes it now.
    assert.ok(await until(() => f.lifetime.repo.get(id)?.state === 'done'), 'consumed message still waits for its expiry');
    await assert.rejects(f.keys.keys.unwrap(id, new Uint8Array(45)), { code: 'MAIL_KEY_DESTROYED' });
    assert.equal(f.messages.repo.getMeta(id), undefined);
    assert.equal(f.messages.repo.getContent(id), undefined);
  });
});

describe('secure mail: what the files hold of what the sender wrote', () => {
  let f: MailFabric;
  before(async () => { f = await startMailFabric(); });
  after(async () => { await f?.close(); });

  const filesHolding = (marker: string): Promise<string[]> => filesHoldingIn(join(f.dir, 'data'), marker);

  it('after sending, the subject and the text are in no file of the data directory (a backup or disk image taken now holds only ciphertext)', async () => {
    const subject = `subject-marker-${'s'.repeat(24)}`;
    const body = `body-marker-${'b'.repeat(24)}`;
    const sent = await f.user('alice', 'POST', '/api/mail/messages', { to: ['bob'], subject, body, lifetimeSeconds: 3600, readOnce: false });
    assert.equal(sent.status, 201, sent.text);
    const { id } = sent.body as { id: string };
    // The search finds what is stored (the test could fail): the message id is in metadata.db.
    assert.ok((await filesHolding(id)).some((name) => name.endsWith('metadata.db')), 'the search does not see metadata.db');
    assert.deepEqual(await filesHolding(subject), [], 'the subject is stored in plain text');
    assert.deepEqual(await filesHolding(body), [], 'the text is stored in plain text');
    // Still readable by its recipient, subject and all.
    const read = await f.user('bob', 'POST', `/api/mail/messages/${id}/read`);
    assert.deepEqual([(read.body as { subject: string }).subject, (read.body as { body: string }).body], [subject, body]);
    assert.deepEqual(await filesHolding(subject), [], 'reading left the subject in a file');
  });

  it('the subject of a read-once message is in no file before or after it was read and shredded', async () => {
    const subject = `remnant-${'q'.repeat(24)}`;
    const id = await sendReadOnce(f, subject);
    assert.deepEqual(await filesHolding(subject), []);
    assert.equal((await f.user('bob', 'POST', `/api/mail/messages/${id}/read`)).status, 200);
    assert.ok(await until(() => f.lifetime.repo.get(id)?.state === 'done'));
    assert.equal(f.messages.repo.getMeta(id), undefined);
    assert.deepEqual(await filesHolding(subject), [], 'the deleted subject is readable in a file');
  });
});

describe('secure mail: what the notification service keeps about a shredded message', () => {
  let f: MailFabric;
  before(async () => { f = await startMailFabric(); });
  after(async () => { await f?.close(); });

  it('after its notice went out and the message was shredded, notification.db no longer names its sender or recipient (who wrote to whom outlived the message there)', async () => {
    const sent = await f.user('alice', 'POST', '/api/mail/messages', { to: ['carol'], subject: 'told', body: 'read me once', lifetimeSeconds: 3600, readOnce: true });
    assert.equal(sent.status, 201, sent.text);
    const { id } = sent.body as { id: string };
    assert.ok(await until(() => f.smtp.received.some((m) => m.to.includes(USERS.carol.email))), 'the notice went out');
    const file = join(f.dir, 'data', 'notification', 'notification.db');
    const names = async () => {
      const found: string[] = [];
      for (const name of [file, `${file}-wal`, `${file}-journal`]) {
        if (!existsSync(name)) continue;
        const bytes = await readFile(name);
        for (const who of [USERS.alice.subject, USERS.carol.subject]) if (bytes.includes(who)) found.push(`${who} in ${name}`);
      }
      return found;
    };
    assert.equal((await f.user('carol', 'POST', `/api/mail/messages/${id}/read`)).status, 200);
    assert.ok(await until(() => f.lifetime.repo.get(id)?.state === 'done'), 'shredded');
    assert.equal(f.messages.repo.getMeta(id), undefined, 'the messages service forgot who wrote to whom');
    assert.deepEqual(f.notification.repo.forMessage(id), [], 'a delivery row outlives the message');
    assert.deepEqual(await names(), [], 'sender or recipient still readable in the notification service\'s files');
    // What happened to the notice is still known — by message id only.
    assert.ok(f.notification.audit.list().some((e) => e.action === 'notify.email' && e.outcome === 'allowed' && e.messageId === id));
  });
});
