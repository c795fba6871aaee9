/**
 * Secure mail: notices about a message that no longer exists. A notice waits and is retried
 * while the mail server is unreachable; by the time it could go out, its read-once message
 * may have been read and shredded. Sending it then tells the recipient's mailbox (and
 * whoever reads it) about a message that is gone, long after the fact.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDemoSmtpServer, type DemoSmtpServer } from '../../examples/secure-mail/notification/demo-smtp-server.ts';
import { startMailFabric, USERS, type MailFabric } from './secure-mail-support/fabric.ts';

async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; !probe(); await sleep(50)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

describe('secure mail: notices about a message that is gone', () => {
  let f: MailFabric;
  let smtp: DemoSmtpServer | undefined;
  // Enough attempts that the notice is still pending when the mail server is back.
  before(async () => { f = await startMailFabric({ notification: { maxAttempts: 30 } }); });
  after(async () => { await smtp?.close(); await f?.close(); });

  it('a notice still waiting for the mail server when its read-once message is read and shredded is never sent', async () => {
    const port = f.smtp.port;
    await f.smtp.close();
    const sent = await f.user('alice', 'POST', '/api/mail/messages', { to: ['bob'], subject: 'Hi', body: 'read me once', lifetimeSeconds: 3600, readOnce: true });
    assert.equal(sent.status, 201, sent.text);
    const { id } = sent.body as { id: string };
    const delivery = () => f.notification.repo.forMessage(id)[0];
    await until('a failed attempt to notify bob', () => (delivery()?.attempts ?? 0) >= 1);

    // Bob reads it in the app without waiting for the notice; then it is shredded.
    assert.equal((await f.user('bob', 'POST', `/api/mail/messages/${id}/read`)).status, 200);
    await until('shredding', () => f.lifetime.repo.get(id)?.state === 'done');
    // Not delivered yet (the test could fail): still waiting, or already cancelled by a retry
    // that ran after the shredding (the dispatcher keeps retrying while the server is down).
    const notices = () => f.notification.audit.list().filter((e) => e.action === 'notify.email' && e.messageId === id);
    assert.ok(!notices().some((e) => e.outcome === 'allowed'), 'the notice is not delivered yet');

    smtp = await startDemoSmtpServer({ port });
    // A settled notice leaves no delivery behind; the audit log says how it was settled.
    await until('the notice is settled', () => delivery() === undefined, 20_000);
    assert.ok(notices().some((e) => e.outcome === 'denied' && e.reason === 'MAIL_GONE'), 'cancelled because the message is gone');
    assert.ok(!notices().some((e) => e.outcome === 'allowed'));
    assert.deepEqual(smtp.received.filter((m) => m.to.includes(USERS.bob.email)), [], 'a notice about a shredded message went out');
  });
});
