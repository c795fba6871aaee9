/**
 * Secure mail: an identity assertion seen once is no key to anything else. Gatehouse sends
 * every service a per-request assertion (gatehouse.yaml), bound to the method, path and
 * request id; a service must not also take a cached one — valid for any method and path for
 * about a minute — nor a bound one moved to another request. The assertion travels in a
 * header and ends up wherever upstream requests are logged or traced.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { mtlsClientOptions } from '../../src/pki/mtls/tls-options.ts';
import { IDENTITY_ASSERTION_HEADER } from '../../src/sdk/contract.ts';
import type { Identity } from '../../src/gateway/context.ts';
import { startMailFabric, USERS, type MailFabric } from './secure-mail-support/fabric.ts';

describe('secure mail: reusing an identity assertion', () => {
  let f: MailFabric;
  let inbox: string;
  before(async () => {
    f = await startMailFabric();
    const sent = await f.user('alice', 'POST', '/api/mail/messages', { to: ['bob'], subject: 'For bob', body: 'only for bob', lifetimeSeconds: 3600, readOnce: false });
    assert.equal(sent.status, 201, sent.text);
    inbox = `/api/mail/messages/${(sent.body as { id: string }).id}/read`;
  });
  after(async () => { await f?.close(); });

  const bob: Identity = {
    subject: USERS.bob.subject, kind: 'user', roles: ['mail-user'], method: 'session', amr: ['pwd'], authTime: undefined, mfaTime: undefined,
    credentialId: 'cred-bob', issuer: undefined, attributes: {},
  };
  /** What whoever holds Gatehouse's connection (or a copied assertion) sends to the messages service. */
  const call = async (method: string, path: string, headers: Record<string, string>) => {
    const u = f.upstream('messages');
    const agent = new Agent({ connect: mtlsClientOptions(f.certs.gateway.material, f.pki.trust, { expectedSpiffeId: u.spiffeId }, { checkHostname: false }) });
    try {
      const r = await request(`${u.url}${path}`, { method: method as 'GET', dispatcher: agent, headers });
      const text = await r.body.text();
      return { status: r.statusCode, text };
    } finally {
      await agent.close();
    }
  };

  it('a cached assertion (not bound to a request) is refused with 401 ERR_SDK_ASSERTION_BINDING, no text', async () => {
    const cached = await f.relay.signer.sign(bob, 'messages');
    const r = await call('POST', inbox, { [IDENTITY_ASSERTION_HEADER]: cached, 'x-request-id': randomUUID() });
    assert.equal(r.status, 401, r.text);
    assert.equal(JSON.parse(r.text).error.code, 'ERR_SDK_ASSERTION_BINDING');
    assert.doesNotMatch(r.text, /only for bob/);
  });

  it('an assertion bound to listing the inbox, moved to reading a message, is refused with 401 ERR_SDK_ASSERTION_BINDING', async () => {
    const requestId = randomUUID();
    const bound = await f.relay.signer.signBound(bob, 'messages', { requestId, method: 'GET', path: '/api/mail/mailboxes/bob/inbox' });
    const listed = await call('GET', '/api/mail/mailboxes/bob/inbox', { [IDENTITY_ASSERTION_HEADER]: bound, 'x-request-id': requestId });
    assert.equal(listed.status, 200, listed.text);
    const moved = await call('POST', inbox, { [IDENTITY_ASSERTION_HEADER]: bound, 'x-request-id': requestId });
    assert.equal(moved.status, 401, moved.text);
    assert.equal(JSON.parse(moved.text).error.code, 'ERR_SDK_ASSERTION_BINDING');
  });
});
