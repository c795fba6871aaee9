/**
 * Secure mail: what a user who is neither sender nor recipient learns from a message id. Ids
 * travel (links, logs, a shoulder-surfed URL); the answer to an outsider must not depend on
 * whether the message is live, was read, has expired or never existed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startMailFabric, type MailFabric, type Username } from './secure-mail-support/fabric.ts';

describe('secure mail: a user who is neither sender nor recipient', () => {
  let f: MailFabric;
  before(async () => { f = await startMailFabric(); });
  after(async () => { await f?.close(); });

  const send = async (extra: Record<string, unknown>) => {
    const r = await f.user('alice', 'POST', '/api/mail/messages', { to: ['bob'], subject: 'Hi', body: 'secret text', lifetimeSeconds: 3600, readOnce: false, ...extra });
    assert.equal(r.status, 201, r.text);
    return r.body as { id: string; expiresAt: string };
  };
  const answer = async (who: Username, method: 'GET' | 'POST', id: string) => {
    const r = await f.user(who, method, method === 'GET' ? `/api/mail/messages/${id}` : `/api/mail/messages/${id}/read`);
    return { status: r.status, body: r.body };
  };

  it('an outsider holding a message id cannot tell whether it was read', async () => {
    const live = await send({});
    const read = await send({ readOnce: true });
    const expired = await send({ lifetimeSeconds: 1 });
    // Without the lifetime service the read and the expired message keep their rows: the
    // outsider asks about a message that is still there, only no longer readable.
    await f.lifetime.close();
    assert.equal((await answer('bob', 'POST', read.id)).status, 200);
    await sleep(Math.max(0, Date.parse(expired.expiresAt) - Date.now()) + 50);
    assert.equal(f.messages.repo.getMeta(read.id)?.state, 'consumed');
    assert.ok(f.messages.repo.getMeta(expired.id), 'the expired message is still stored');
    const neverSent = `msg_${'7'.repeat(32)}`;

    for (const method of ['GET', 'POST'] as const) {
      const answers = {
        live: await answer('carol', method, live.id),
        read: await answer('carol', method, read.id),
        expired: await answer('carol', method, expired.id),
        neverSent: await answer('carol', method, neverSent),
      };
      for (const [state, a] of Object.entries(answers)) {
        assert.deepEqual(a, answers.neverSent, `${method} of a ${state} message differs from one never sent`);
      }
      assert.deepEqual(answers.neverSent, { status: 410, body: { error: { code: 'MAIL_GONE', message: 'This message no longer exists' } } });
    }

    // Participants keep their precise answers.
    assert.equal((await answer('bob', 'GET', live.id)).status, 200);
    assert.equal((await answer('alice', 'GET', live.id)).status, 200);
    assert.deepEqual(await answer('alice', 'POST', live.id), { status: 403, body: { error: { code: 'MAIL_FORBIDDEN', message: 'Forbidden' } } });
    assert.equal((await answer('bob', 'POST', read.id)).status, 410);
    assert.equal((await answer('bob', 'GET', expired.id)).status, 410);
  });
});
