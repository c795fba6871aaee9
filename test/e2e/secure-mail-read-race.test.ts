/**
 * Secure mail: racing reads of a read-once message. Every read unwraps the key (a slow call
 * through Gatehouse to the key service) before it records the read, so concurrent reads are
 * all past the first check when the first one finishes; exactly one may get the text.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startMailFabric, USERS, type MailFabric } from './secure-mail-support/fabric.ts';

describe('secure mail: racing reads of a read-once message', () => {
  let f: MailFabric;
  before(async () => { f = await startMailFabric(); });
  after(async () => { await f?.close(); });

  it('eight concurrent reads by its two recipients hand the text out once; the others get 410 MAIL_GONE, and the message is shredded', async () => {
    const sent = await f.user('alice', 'POST', '/api/mail/messages', { to: ['bob', 'carol'], subject: 'race', body: 'only once', lifetimeSeconds: 3600, readOnce: true });
    assert.equal(sent.status, 201, sent.text);
    const { id } = sent.body as { id: string };
    const readers = ['bob', 'carol', 'bob', 'carol', 'bob', 'carol', 'bob', 'carol'] as const;
    const answers = await Promise.all(readers.map((who) => f.user(who, 'POST', `/api/mail/messages/${id}/read`)));
    const texts = answers.filter((a) => a.status === 200);
    assert.equal(texts.length, 1, `statuses ${answers.map((a) => a.status).join(' ')}`);
    assert.equal((texts[0]!.body as { body: string }).body, 'only once');
    for (const a of answers.filter((x) => x.status !== 200)) {
      assert.equal(a.status, 410);
      assert.equal((a.body as { error: { code: string } }).error.code, 'MAIL_GONE');
      assert.ok(!a.text.includes('only once'));
    }
    // The reads did race (the test could fail): more than one got as far as unwrapping the key.
    assert.ok(f.keys.audit.list().filter((e) => e.action === 'key.unwrap' && e.outcome === 'allowed' && e.messageId === id).length > 1, 'the reads did not overlap');
    const reads = f.messages.audit.list().filter((e) => e.messageId === id && e.action === 'message.read');
    assert.equal(reads.filter((e) => e.outcome === 'allowed').length, 1);
    assert.ok(reads.filter((e) => e.outcome === 'allowed').every((e) => e.actor === USERS.bob.subject || e.actor === USERS.carol.subject));
    for (const end = Date.now() + 5_000; f.lifetime.repo.get(id)?.state !== 'done' && Date.now() < end;) await sleep(50);
    assert.equal(f.messages.repo.getMeta(id), undefined);
    await assert.rejects(f.keys.keys.unwrap(id, new Uint8Array(60)), { code: 'MAIL_KEY_DESTROYED' });
  });
});
