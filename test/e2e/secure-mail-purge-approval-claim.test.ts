/**
 * Secure mail's purge checks the approval itself (defense in depth): the messages service runs
 * POST /api/admin/purge only when the verified identity assertion carries Gatehouse's signed
 * `approval` claim. A purge that reaches it without one — a route that lost its `approval`, or
 * whoever holds the gateway's connection adding the unsigned `x-gatehouse-approval` header —
 * is refused and purges nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { mtlsClientOptions } from '../../src/pki/mtls/tls-options.ts';
import { IDENTITY_ASSERTION_HEADER } from '../../src/sdk/contract.ts';
import type { Identity } from '../../src/gateway/context.ts';
import { startMailFabric, USERS, type MailFabric } from './secure-mail-support/fabric.ts';

describe('secure mail: the purge needs the signed approval claim', () => {
  let f: MailFabric;
  let read = '';
  before(async () => {
    f = await startMailFabric();
    const sent = await f.user('alice', 'POST', '/api/mail/messages', { to: ['bob'], subject: 'For bob', body: 'only for bob', lifetimeSeconds: 3600, readOnce: false });
    assert.equal(sent.status, 201, sent.text);
    read = `/api/mail/messages/${(sent.body as { id: string }).id}/read`;
  });
  after(async () => { await f?.close(); });

  const carol: Identity = {
    subject: USERS.carol.subject, kind: 'user', roles: ['mail-admin'], method: 'session', amr: ['pwd', 'otp'], authTime: undefined, mfaTime: undefined,
    credentialId: 'cred-carol', issuer: undefined, attributes: {},
  };
  /** A purge of bob's mailbox as the gateway's connection sends it, with carol's request-bound assertion. */
  const purge = async (approval: { id: string; approver: string } | undefined, headers: Record<string, string> = {}) => {
    const u = f.upstream('messages');
    const requestId = randomUUID();
    const assertion = await f.relay.signer.signBound(carol, 'messages', { requestId, method: 'POST', path: '/api/admin/purge', approval });
    const agent = new Agent({ connect: mtlsClientOptions(f.certs.gateway.material, f.pki.trust, { expectedSpiffeId: u.spiffeId }, { checkHostname: false }) });
    try {
      const r = await request(`${u.url}/api/admin/purge`, {
        method: 'POST', dispatcher: agent, body: JSON.stringify({ username: 'bob' }),
        headers: { [IDENTITY_ASSERTION_HEADER]: assertion, 'x-request-id': requestId, 'content-type': 'application/json', ...headers },
      });
      return { status: r.statusCode, text: await r.body.text() };
    } finally {
      await agent.close();
    }
  };

  it('a mail admin\'s purge without an approval claim, even with an x-gatehouse-approval header, is refused (403 MAIL_FORBIDDEN) and purges nothing', async () => {
    const r = await purge(undefined, { 'x-gatehouse-approval': 'apv_AAAAAAAAAAAAAAAAAAAAAA; approver=usr_dave' });
    assert.equal(r.status, 403, r.text);
    assert.equal(JSON.parse(r.text).error.code, 'MAIL_FORBIDDEN');
    const still = await f.user('bob', 'POST', read);
    assert.equal(still.status, 200, still.text);
    assert.match(still.text, /only for bob/);
  });

  it('the same purge with the signed approval claim runs', async () => {
    const r = await purge({ id: 'apv_AAAAAAAAAAAAAAAAAAAAAA', approver: 'usr_dave' });
    assert.equal(r.status, 200, r.text);
    assert.equal(JSON.parse(r.text).purged, 1);
    const gone = await f.user('bob', 'POST', read);
    assert.equal(gone.status, 410, gone.text);
  });
});
