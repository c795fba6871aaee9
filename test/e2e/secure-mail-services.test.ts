/**
 * Secure mail, service level: the real services over mutual TLS, certificates from the real
 * CA, identity assertions from the real signer (through the assertion relay that stands in
 * for the gateway wiring not yet in Gatehouse), a real SMTP server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startMailFabric, USERS, type MailFabric } from './secure-mail-support/fabric.ts';

async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

type Listed = { messages: { id: string; from: string; subject?: string; secondsLeft: number; readBy?: string[] }[] };

describe('secure mail services', () => {
  let f: MailFabric;
  before(async () => { f = await startMailFabric(); });
  after(async () => { await f?.close(); });

  const send = (from: 'alice' | 'bob', body: Record<string, unknown>) => f.user(from, 'POST', '/api/mail/messages', { subject: 'Hi', body: 'secret text', lifetimeSeconds: 3600, readOnce: false, ...body });

  it('alice sends bob a read-once message; bob reads it once and then it is gone for both', async () => {
    const sent = await send('alice', { to: ['bob'], subject: 'Launch codes', body: 'the cake is a lie', readOnce: true });
    assert.equal(sent.status, 201, sent.text);
    const { id } = sent.body as { id: string };

    const inbox = await f.user('bob', 'GET', '/api/mail/mailboxes/bob/inbox');
    assert.equal(inbox.status, 200);
    assert.deepEqual((inbox.body as Listed).messages.map((m) => [m.id, m.from]), [[id, 'alice']]);
    const outbox = await f.user('alice', 'GET', '/api/mail/mailboxes/alice/outbox');
    assert.deepEqual((outbox.body as Listed).messages.map((m) => m.id), [id]);
    // The subject is sealed with the text: listing and metadata reveal none of it, and consume nothing.
    const metadata = await f.user('bob', 'GET', `/api/mail/messages/${id}`);
    for (const answer of [inbox, outbox, metadata]) assert.ok(!answer.text.includes('Launch codes'), `the subject is in ${answer.text}`);
    // secondsLeft counts down between the two listings (a second boundary can fall between them): compare the rest.
    const withoutCountdown = (text: string) => text.replace(/"secondsLeft":\d+/g, '"secondsLeft":0');
    assert.equal(withoutCountdown((await f.user('bob', 'GET', '/api/mail/mailboxes/bob/inbox')).text), withoutCountdown(inbox.text), 'listing changed the message');

    const read = await f.user('bob', 'POST', `/api/mail/messages/${id}/read`);
    assert.equal(read.status, 200, read.text);
    assert.equal((read.body as { body: string }).body, 'the cake is a lie');
    assert.equal((read.body as { subject: string }).subject, 'Launch codes');

    const again = await f.user('bob', 'POST', `/api/mail/messages/${id}/read`);
    assert.equal(again.status, 410);
    assert.equal((again.body as { error: { code: string } }).error.code, 'MAIL_GONE');
    assert.deepEqual(((await f.user('bob', 'GET', '/api/mail/mailboxes/bob/inbox')).body as Listed).messages, []);
    assert.deepEqual(((await f.user('alice', 'GET', '/api/mail/mailboxes/alice/outbox')).body as Listed).messages, []);
    // The lifetime service shreds it: key destroyed, then content and metadata deleted.
    await until('deletion after the read', () => f.messages.repo.getMeta(id) === undefined && f.messages.repo.getContent(id) === undefined);
    await assert.rejects(f.keys.keys.unwrap(id, new Uint8Array(60)), { code: 'MAIL_KEY_DESTROYED' });
  });

  it('the notification reached the SMTP server, without subject or content', async () => {
    const sent = await send('alice', { to: ['bob', 'carol'], subject: 'Quarterly numbers', body: 'revenue is 42' });
    const { id } = sent.body as { id: string };
    const mails = await until('two mails', () => {
      const m = f.smtp.received.filter((x) => x.raw.includes('alice sent you a secure message') && (x.to.includes('bob@mail.test') || x.to.includes('carol@mail.test')));
      return m.length >= 2 ? m : undefined;
    });
    for (const m of mails) {
      assert.ok(!m.raw.includes('Quarterly numbers') && !m.raw.includes('revenue is 42'), 'notice leaks the message');
    }
    // Both deliveries audited (by message id only), and none kept once sent.
    await until('deliveries audited', () => f.notification.audit.list().filter((e) => e.action === 'notify.email' && e.outcome === 'allowed' && e.messageId === id).length === 2);
    assert.deepEqual(f.notification.repo.forMessage(id), []);
  });

  it('bob cannot open alice\'s outbox (403, audited as denied)', async () => {
    const r = await f.user('bob', 'GET', '/api/mail/mailboxes/alice/outbox');
    assert.equal(r.status, 403);
    assert.equal((r.body as { error: { code: string } }).error.code, 'MAIL_FORBIDDEN');
    const denied = f.messages.audit.list().filter((e) => e.action === 'mailbox.outbox' && e.outcome === 'denied' && e.actor === USERS.bob.subject);
    assert.equal(denied.length, 1);
  });

  it('only the sender and recipients see metadata; only recipients read content (the sender neither)', async () => {
    const { id } = (await send('alice', { to: ['bob'] })).body as { id: string };
    assert.equal((await f.user('alice', 'GET', `/api/mail/messages/${id}`)).status, 200);
    assert.equal((await f.user('bob', 'GET', `/api/mail/messages/${id}`)).status, 200);
    // Others get the answer for a message that does not exist (secure-mail-outsiders.test.ts).
    assert.equal((await f.user('carol', 'GET', `/api/mail/messages/${id}`)).status, 410);
    assert.equal((await f.user('carol', 'POST', `/api/mail/messages/${id}/read`)).status, 410);
    assert.equal((await f.user('alice', 'POST', `/api/mail/messages/${id}/read`)).status, 403);
    // What the users did (the notification service's check before its notice is audited too, at its own time).
    const audit = f.messages.audit.list().filter((e) => e.messageId === id && e.actor.startsWith('usr_'));
    assert.deepEqual(audit.map((e) => [e.action, e.outcome]), [
      ['message.send', 'allowed'], ['message.metadata', 'allowed'], ['message.metadata', 'allowed'],
      ['message.metadata', 'denied'], ['message.read', 'denied'], ['message.read', 'denied'],
    ]);
  });

  it('a message that reaches its lifetime unread disappears (key destroyed, content and metadata deleted)', async () => {
    const { id } = (await send('alice', { to: ['bob'], lifetimeSeconds: 3 })).body as { id: string };
    assert.equal(((await f.user('bob', 'GET', '/api/mail/mailboxes/bob/inbox')).body as Listed).messages.filter((m) => m.id === id).length, 1);
    await until('expiry', () => f.lifetime.repo.get(id)?.state === 'done', 10_000);
    assert.equal(f.messages.repo.getMeta(id), undefined);
    assert.equal(f.messages.repo.getContent(id), undefined);
    assert.equal((await f.user('bob', 'POST', `/api/mail/messages/${id}/read`)).status, 410);
    await assert.rejects(f.keys.keys.unwrap(id, new Uint8Array(60)), { code: 'MAIL_KEY_DESTROYED' });
  });

  it('a sender-chosen subject with markup comes back in JSON that a browser neither sniffs as HTML nor runs script from (nosniff, CSP default-src \'none\')', async () => {
    const subject = '<img src=x onerror=alert(document.cookie)><script>alert(1)</script>';
    const { id } = (await send('alice', { to: ['bob'], subject })).body as { id: string };
    const read = await f.user('bob', 'POST', `/api/mail/messages/${id}/read`);
    assert.equal((read.body as { subject: string }).subject, subject);
    for (const answer of [read, await f.user('bob', 'GET', `/api/mail/messages/${id}`), await f.user('bob', 'GET', '/api/mail/mailboxes/bob/inbox'), await f.user('bob', 'GET', '/api/mail/messages/msg_nope')]) {
      assert.match(String(answer.headers['content-type']), /^application\/json/);
      assert.equal(answer.headers['x-content-type-options'], 'nosniff');
      assert.match(String(answer.headers['content-security-policy']), /default-src 'none'/);
    }
  });

  it('refuses hostile compose input with MAIL_INPUT_INVALID and keeps nothing', async () => {
    const before = f.messages.repo.counts();
    const cases: unknown[] = [
      { to: ['bob'], subject: 'x', body: 'y', lifetimeSeconds: 1e400, readOnce: false },
      { to: ['bob'], subject: 'x', body: 'y', lifetimeSeconds: 0, readOnce: false },
      { to: ['bob'], subject: 'x', body: 'y', lifetimeSeconds: 60, readOnce: 'yes' },
      { to: [], subject: 'x', body: 'y', lifetimeSeconds: 60, readOnce: false },
      { to: ['Bob\r\nBcc: eve'], subject: 'x', body: 'y', lifetimeSeconds: 60, readOnce: false },
      { to: ['bob'], subject: 'a\r\nb', body: 'y', lifetimeSeconds: 60, readOnce: false },
      { to: ['bob'], subject: 'x', body: 'y', lifetimeSeconds: 60, readOnce: false, __proto__: { admin: true }, sender: 'usr_bob' },
      { to: ['bob'], subject: 'x', body: 'y'.repeat(40_000), lifetimeSeconds: 60, readOnce: false },
    ];
    for (const c of cases) {
      const r = await f.user('alice', 'POST', '/api/mail/messages', c);
      assert.ok(r.status === 400 || r.status === 413, `${JSON.stringify(c).slice(0, 80)} → ${r.status}`);
    }
    const unknown = await f.user('alice', 'POST', '/api/mail/messages', { to: ['mallory'], subject: 'x', body: 'y', lifetimeSeconds: 60, readOnce: false });
    assert.equal((unknown.body as { error: { code: string } }).error.code, 'MAIL_RECIPIENT_UNKNOWN');
    assert.deepEqual(f.messages.repo.counts(), before);
  });
});
