/**
 * Secure mail: one account cannot store without bound. Each message is small (32 KiB), but
 * without a limit on how many a sender keeps live, one user (or a stolen token) fills the
 * services' disks, sends a notice e-mail per message, and buries a recipient's real mail
 * under the 500 newest of their own in the inbox list.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startMailFabric, type MailFabric } from './secure-mail-support/fabric.ts';

const LIMIT = 3;

describe('secure mail: live messages per sender', () => {
  let f: MailFabric;
  before(async () => {
    f = await startMailFabric({ messages: { limits: { minLifetimeSeconds: 1, maxLifetimeSeconds: 3600, maxBodyChars: 1024, maxRecipients: 20, maxLiveMessages: LIMIT } } });
  });
  after(async () => { await f?.close(); });

  const send = () => f.user('alice', 'POST', '/api/mail/messages', { to: ['bob'], subject: 'Flood', body: 'x'.repeat(1000), lifetimeSeconds: 3600, readOnce: true });

  it('a burst of sends past the limit is refused with 429 MAIL_QUOTA_EXCEEDED, nothing stored for the refused ones', async () => {
    const answers = await Promise.all(Array.from({ length: LIMIT + 4 }, () => send()));
    const statuses = answers.map((r) => r.status).sort();
    assert.deepEqual(statuses, [...Array(LIMIT).fill(201), ...Array(4).fill(429)], answers.map((r) => r.text).join('\n'));
    const refused = answers.find((r) => r.status === 429)!;
    assert.equal((refused.body as { error: { code: string } }).error.code, 'MAIL_QUOTA_EXCEEDED');
    assert.equal(f.messages.repo.counts().messages, LIMIT);
    assert.equal(f.messages.repo.counts().contents, LIMIT);
    // Another sender has a limit of their own.
    const bob = await f.user('bob', 'POST', '/api/mail/messages', { to: ['alice'], subject: 'Hi', body: 'hello', lifetimeSeconds: 60, readOnce: false });
    assert.equal(bob.status, 201, bob.text);
  });

  it('a message read once no longer counts against its sender', async () => {
    assert.equal((await send()).status, 429);
    const inbox = await f.user('bob', 'GET', '/api/mail/mailboxes/bob/inbox');
    const id = (inbox.body as { messages: { id: string }[] }).messages[0]!.id;
    assert.equal((await f.user('bob', 'POST', `/api/mail/messages/${id}/read`)).status, 200);
    assert.equal((await send()).status, 201);
  });
});
