/**
 * Service accounts that authenticate without a shared secret — `private_key_jwt` (RFC 7523)
 * and `tls_client_auth` (RFC 8705, in sender-constrained.test.ts) — with openid-client as
 * the client, against the IdP inside a running Gatehouse.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { discover, startIdpGateway, type IdpGateway } from './support/gateway-idp.ts';

describe('private_key_jwt client authentication', () => {
  let idp: IdpGateway;
  let clientKey: CryptoKey;

  before(async () => {
    idp = await startIdpGateway();
    const pair = await generateKeyPair('ES256');
    clientKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'inventory-1', alg: 'ES256', use: 'sig' };
    await idp.accounts.addClient({ clientId: 'inventory', kind: 'service', roles: ['inventory:svc'], authMethod: 'private_key_jwt', jwks: { keys: [jwk] } });
  });
  after(() => idp?.close());

  it('issues a token to a service account that signs its assertion with its registered key', async () => {
    const config = await discover(idp, 'inventory', undefined, oidc.PrivateKeyJwt({ key: clientKey, kid: 'inventory-1' }));
    assert.ok(config.serverMetadata().token_endpoint_auth_methods_supported?.includes('private_key_jwt'));
    const res = await oidc.clientCredentialsGrant(config, {});
    const claims = decodeJwt(res.access_token);
    assert.equal(claims.sub, 'inventory');
    assert.deepEqual(claims.roles, ['inventory:svc']);
  });

  it('refuses an assertion signed with a key the client did not register (invalid_client)', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const config = await discover(idp, 'inventory', undefined, oidc.PrivateKeyJwt({ key: privateKey, kid: 'inventory-1' }));
    await assert.rejects(oidc.clientCredentialsGrant(config, {}), (e: any) => e.error === 'invalid_client');
  });

  async function assertion(overrides: { jti?: string; aud?: string; exp?: number } = {}) {
    return new SignJWT({ jti: overrides.jti ?? randomUUID() })
      .setProtectedHeader({ alg: 'ES256', kid: 'inventory-1' })
      .setIssuer('inventory').setSubject('inventory').setAudience(overrides.aud ?? idp.origin)
      .setIssuedAt().setExpirationTime(overrides.exp ?? Math.floor(Date.now() / 1000) + 60)
      .sign(clientKey);
  }

  async function grant(clientAssertion: string) {
    const res = await idp.fetch(`${idp.origin}/oidc/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials', client_id: 'inventory',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: clientAssertion,
      }).toString(),
    });
    return { status: res.status, body: (await res.json()) as { error?: string; access_token?: string } };
  }

  it('refuses a replayed client assertion (same jti) with invalid_client', async () => {
    const a = await assertion();
    assert.equal((await grant(a)).status, 200);
    const replay = await grant(a);
    assert.equal(replay.status, 401);
    assert.equal(replay.body.error, 'invalid_client');
  });

  it('refuses an assertion made for another audience (invalid_client)', async () => {
    const res = await grant(await assertion({ aud: 'https://other-idp.example' }));
    assert.equal(res.body.error, 'invalid_client');
  });

  it('refuses an expired assertion (invalid_client)', async () => {
    const res = await grant(await assertion({ exp: Math.floor(Date.now() / 1000) - 120 }));
    assert.equal(res.body.error, 'invalid_client');
  });

  it('refuses a client secret for a private_key_jwt client (invalid_client)', async () => {
    const config = await discover(idp, 'inventory', 'ghcs_guessed');
    await assert.rejects(oidc.clientCredentialsGrant(config, {}), (e: any) => e.error === 'invalid_client');
  });
});
