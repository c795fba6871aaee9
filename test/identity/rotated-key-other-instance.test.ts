/**
 * Two Gatehouse instances behind one load balancer (one PostgreSQL database) and a key rotation
 * on one of them whose `identity.keys.rotated` event the other never gets (no shared bus here;
 * in production: disconnected from NATS at that moment). The rotating instance signs with the
 * new key at once. Before, the other instance's gateway refused every token signed so with
 * ERR_AUTHN_TOKEN_KEY_UNKNOWN until its next store check (`identity.signing.reloadCheckMs`, up
 * to an hour): valid tokens failed at random behind the load balancer. Now a token whose kid
 * the instance does not know makes it ask the store (at most one check a second) whether the
 * active key changed, and reload its keys if so. A kid nobody made is still refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { identityProviderOf } from '../../src/gateway/extensions/identity.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-postgres.ts';
import { startUpstream, type TestUpstream } from '../support/gateway.ts';
import { discover, PUBLIC_URL, startIdpGateway, type IdpGateway } from './support/gateway-idp.ts';

const skip = await serviceOrSkip('postgres');

describe('a token signed with a key rotated on another instance', { skip }, () => {
  let database: ScratchDatabase | undefined;
  let upstream: TestUpstream;
  let a: IdpGateway;
  let b: IdpGateway;
  let secret: string;

  before(async () => {
    database = await createScratchDatabase('gh_rotated_other');
    upstream = await startUpstream();
    // Each instance has its own in-process bus, and checks the store only once an hour.
    const shared = {
      store: { url: database.url },
      identity: { signing: { keyEncryptionSecret: randomBytes(32).toString('base64url'), reloadCheckMs: 3_600_000 } },
      pki: { enabled: false },
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'api', path: '/api', upstream: 'app', access: 'authenticated' as const, authentication: { methods: ['jwt' as const] } }],
    };
    a = await startIdpGateway({ ...shared, instanceId: 'rot-other-a' });
    b = await startIdpGateway({ ...shared, instanceId: 'rot-other-b' });
    secret = (await a.accounts.addClient({ clientId: 'billing', kind: 'service', roles: ['billing:svc'] })).secret!;
  });
  after(async () => {
    try {
      await a?.close();
      await b?.close();
      await upstream?.close();
    } finally {
      await database?.drop();
    }
  });

  /** Instance `gw`'s gateway answer to `token` on the protected route: 200 or the error code. */
  async function atGateway(gw: IdpGateway, token: string): Promise<number | string> {
    const res = await gw.fetch(`${PUBLIC_URL}/api/ledger`, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.text();
    return res.status === 200 ? 200 : (JSON.parse(body) as { error: { code: string } }).error.code;
  }

  const serviceToken = async (gw: IdpGateway) => (await oidc.clientCredentialsGrant(await discover(gw, 'billing', secret), { resource: PUBLIC_URL })).access_token;

  it('is accepted at once by an instance that did not hear of the rotation; a kid nobody made is still refused', async () => {
    assert.equal(await atGateway(b, await serviceToken(a)), 200, 'control: a token of A is accepted at B before the rotation');
    const { kid } = await identityProviderOf(a.gw.gateway.extensions)!.rotateKeys();
    const token = await serviceToken(a);
    assert.equal(decodeProtectedHeader(token).kid, kid, 'A signs with the new key');
    assert.equal(await atGateway(b, token), 200, 'B accepts the token signed with the key A just made');
    assert.ok(identityProviderOf(b.gw.gateway.extensions)!.publicJwks().keys.some((k) => k.kid === kid), 'B now publishes the new key too');

    // Same claims, a key and kid of nobody's: still refused.
    const { privateKey } = await generateKeyPair('ES256');
    const [, payload] = token.split('.');
    const forged = await new SignJWT(JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>)
      .setProtectedHeader({ ...decodeProtectedHeader(token), alg: 'ES256', kid: 'not-a-gatehouse-key' }).sign(privateKey);
    assert.equal(await atGateway(b, forged), 'ERR_AUTHN_TOKEN_KEY_UNKNOWN');
  });
});
