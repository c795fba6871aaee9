/**
 * Secure mail: a user Gatehouse lets through to the mail API (the mail-user role) but who has
 * no entry in the mail directory has no mailbox, and cannot send from one. Otherwise mail
 * would arrive from a subject nobody can name or answer, and no purge could find its sender.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startMailFabric, type MailFabric } from './secure-mail-support/fabric.ts';

describe('secure mail: sending needs a mailbox in the directory', () => {
  let f: MailFabric;
  before(async () => { f = await startMailFabric(); });
  after(async () => { await f?.close(); });

  it('a user outside the mail directory sending mail is refused (403 MAIL_SENDER_UNKNOWN), nothing is stored or delivered, and the refusal is audited', async () => {
    const outsider = 'usr_mallory00000000000000';
    const r = await f.relay.asUser(outsider, f.upstream('messages'), 'POST', '/api/mail/messages', { to: ['bob'], subject: 'Hi', body: 'from nowhere', lifetimeSeconds: 3600, readOnce: false });
    assert.equal(r.status, 403, r.text);
    assert.deepEqual(r.body, { error: { code: 'MAIL_SENDER_UNKNOWN', message: 'Your account has no mailbox' } });
    const inbox = await f.user('bob', 'GET', '/api/mail/mailboxes/bob/inbox');
    assert.deepEqual((inbox.body as { messages: unknown[] }).messages, []);
    assert.deepEqual(f.messages.repo.allSagas(), [], 'no send was started');
    const refused = f.messages.audit.list(0, 1000).filter((e) => e.action === 'message.send');
    assert.deepEqual(refused.map((e) => [e.outcome, e.actor, e.reason]), [['denied', outsider, 'MAIL_SENDER_UNKNOWN']]);
    // A directory user is still served.
    const ok = await f.user('alice', 'POST', '/api/mail/messages', { to: ['bob'], subject: 'Hi', body: 'hello', lifetimeSeconds: 3600, readOnce: false });
    assert.equal(ok.status, 201, ok.text);
  });
});
