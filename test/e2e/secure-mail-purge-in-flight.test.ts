/**
 * Secure mail: a mailbox purge must not miss a message that is being sent at that moment. A
 * message stays `sending` (invisible) until its saga's last step; a purge that only shreds
 * stored messages would let it complete afterwards and appear in the purged mailbox. The send
 * is instead refused completion and compensated: its key destroyed, nothing kept, the sender
 * told `502 MAIL_SEND_FAILED`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { mtlsClientOptions } from '../../src/pki/mtls/tls-options.ts';
import { IDENTITY_ASSERTION_HEADER } from '../../src/sdk/contract.ts';
import type { Identity } from '../../src/gateway/context.ts';
import { startMailFabric, USERS, type MailFabric } from './secure-mail-support/fabric.ts';

/** A TCP proxy that holds every connection until `release()`, then passes it through (TLS end to end). */
async function holdingProxy(target: URL) {
  const held: Socket[] = [];
  let open = false;
  const pass = (s: Socket) => { const up = createConnection(Number(target.port), target.hostname); s.pipe(up).pipe(s); up.on('error', () => s.destroy()); s.on('error', () => up.destroy()); };
  const server: Server = createServer((s) => { s.pause(); if (open) pass(s); else held.push(s); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held.length,
    release() { open = true; for (const s of held.splice(0)) { pass(s); s.resume(); } },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('secure mail: a purge and a send in flight', () => {
  let f: MailFabric;
  before(async () => { f = await startMailFabric(); });
  after(async () => { await f?.close(); });

  const carol: Identity = {
    subject: USERS.carol.subject, kind: 'user', roles: ['mail-admin'], method: 'session', amr: ['pwd', 'otp'], authTime: undefined, mfaTime: undefined,
    credentialId: 'cred-carol', issuer: undefined, attributes: {},
  };
  /** An approved purge of bob's mailbox as Gatehouse forwards it. */
  const purgeBob = async () => {
    const u = f.upstream('messages');
    const requestId = randomUUID();
    const assertion = await f.relay.signer.signBound(carol, 'messages', { requestId, method: 'POST', path: '/api/admin/purge', approval: { id: 'apv_AAAAAAAAAAAAAAAAAAAAAA', approver: 'usr_dave' } });
    const agent = new Agent({ connect: mtlsClientOptions(f.certs.gateway.material, f.pki.trust, { expectedSpiffeId: u.spiffeId }, { checkHostname: false }) });
    try {
      const r = await request(`${u.url}/api/admin/purge`, {
        method: 'POST', dispatcher: agent, body: JSON.stringify({ username: 'bob' }),
        headers: { [IDENTITY_ASSERTION_HEADER]: assertion, 'x-request-id': requestId, 'content-type': 'application/json' },
      });
      return { status: r.statusCode, text: await r.body.text() };
    } finally {
      await agent.close();
    }
  };

  it('a message to the purged user still being sent when the purge runs does not survive it: the send fails (502 MAIL_SEND_FAILED), its key is destroyed and bob never sees it', async () => {
    // The notice (the saga's last step) is held, so the message is `sending` during the purge.
    const notification = f.upstream('notification');
    const realUrl = notification.url;
    const proxy = await holdingProxy(new URL(realUrl));
    notification.url = proxy.url;
    try {
      const sending = f.user('alice', 'POST', '/api/mail/messages', { to: ['bob'], subject: 'In flight', body: 'sent while bob was purged', lifetimeSeconds: 3600, readOnce: false });
      for (let i = 0; proxy.held() === 0 && i < 200; i++) await sleep(25);
      assert.equal(proxy.held(), 1, 'the send reached its notify step');
      const [saga] = f.messages.repo.openSagas();
      assert.equal(f.messages.repo.getMeta(saga!.messageId)?.state, 'sending');

      const purge = await purgeBob();
      assert.equal(purge.status, 200, purge.text);

      proxy.release();
      const sent = await sending;
      assert.equal(sent.status, 502, sent.text);
      assert.equal((sent.body as { error: { code: string } }).error.code, 'MAIL_SEND_FAILED');
      assert.equal(f.messages.repo.getSaga(saga!.id)?.state, 'compensated');
      assert.equal(f.messages.repo.getMeta(saga!.messageId), undefined, 'no metadata kept');
      assert.equal(f.messages.repo.getContent(saga!.messageId), undefined, 'no content kept');
      assert.ok(f.keys.audit.list(0, 1000).some((e) => e.action === 'key.destroy' && e.outcome === 'allowed' && e.messageId === saga!.messageId), 'the message key was destroyed');
      const inbox = await f.user('bob', 'GET', '/api/mail/mailboxes/bob/inbox');
      assert.deepEqual((inbox.body as { messages: unknown[] }).messages, []);
    } finally {
      notification.url = realUrl;
      proxy.release();
      await proxy.close();
    }
    // Mail sent after the purge is delivered as usual.
    const later = await f.user('alice', 'POST', '/api/mail/messages', { to: ['bob'], subject: 'Later', body: 'after the purge', lifetimeSeconds: 3600, readOnce: false });
    assert.equal(later.status, 201, later.text);
    const read = await f.user('bob', 'POST', `/api/mail/messages/${(later.body as { id: string }).id}/read`);
    assert.equal(read.status, 200, read.text);
  });
});
