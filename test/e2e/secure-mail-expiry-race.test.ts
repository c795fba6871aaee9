/**
 * Secure mail: a read that starts just before a message's expiry must not hand out its text
 * after the expiry. Between the check of the lifetime and the answer the messages service asks
 * the key service to unwrap the data key, through Gatehouse; under load (or a slowed key
 * service) that takes as long as the request timeout allows.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startMailFabric, type MailFabric } from './secure-mail-support/fabric.ts';

describe('secure mail: reading across the expiry', () => {
  let f: MailFabric;
  before(async () => { f = await startMailFabric(); });
  after(async () => { await f?.close(); });

  it('a read whose key unwrap finishes after the expiry is refused as gone, no text returned', async () => {
    const send = async (readOnce: boolean, lifetimeSeconds: number) => {
      const r = await f.user('alice', 'POST', '/api/mail/messages', { to: ['bob'], subject: 'Soon gone', body: 'expiring secret', lifetimeSeconds, readOnce });
      assert.equal(r.status, 201, r.text);
      return r.body as { id: string; expiresAt: string };
    };
    // The second lives longer: the first read waits for the first expiry.
    const messages = [await send(false, 5), await send(true, 12)];
    // Without the lifetime service the key stays: only the messages service's own checks stand.
    await f.lifetime.close();
    const keys = f.keys.keys;
    const unwrap = keys.unwrap.bind(keys);
    for (const { id, expiresAt } of messages) {
      assert.ok(Date.now() < Date.parse(expiresAt) - 200, 'the read starts before the expiry');
      // The key service answers only once the message's lifetime is over.
      keys.unwrap = async (keyId, wrapped) => { await sleep(Math.max(0, Date.parse(expiresAt) - Date.now()) + 100); return unwrap(keyId, wrapped); };
      try {
        const r = await f.user('bob', 'POST', `/api/mail/messages/${id}/read`);
        assert.ok(Date.now() > Date.parse(expiresAt));
        assert.equal(r.status, 410, r.text);
        assert.doesNotMatch(r.text, /expiring secret/);
      } finally {
        keys.unwrap = unwrap;
      }
    }
  });
});
