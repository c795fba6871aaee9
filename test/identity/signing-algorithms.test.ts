/**
 * Every configurable signing algorithm produces tokens that a standard verifier (jose, with
 * the published JWKS) accepts, and an altered signature is refused. The signature is made by
 * NodeSigningKey (node:crypto); everything else of the JWS is oidc-provider's.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { startHarness, type Harness } from './support/harness.ts';
import { rpConfig } from './support/flows.ts';

for (const algorithm of ['ES256', 'EdDSA', 'RS256'] as const) {
  describe(`tokens signed with ${algorithm}`, () => {
    let h: Harness;
    let config: oidc.Configuration;

    before(async () => {
      h = await startHarness('sqlite', { signing: { algorithm } });
      const svc = await h.idp.accounts.addClient({ clientId: 'billing', kind: 'service', roles: ['billing:svc'] });
      config = await rpConfig(h, 'billing', svc.secret!);
    });
    after(() => h?.close());

    it('verify against the published JWKS with jose', async () => {
      const { access_token: token } = await oidc.clientCredentialsGrant(config, {});
      assert.equal(decodeProtectedHeader(token).alg, algorithm);
      const jwks = createLocalJWKSet(await (await h.fetch(`${h.origin}/oidc/jwks`)).json() as JSONWebKeySet);
      const { payload } = await jwtVerify(token, jwks, { issuer: h.origin, audience: h.origin, typ: 'at+jwt', algorithms: [algorithm] });
      assert.equal(payload.sub, 'billing');
    });

    it('refuses the token with one bit of its signature flipped', async () => {
      const { access_token: token } = await oidc.clientCredentialsGrant(config, {});
      const [header, payload, signature] = token.split('.') as [string, string, string];
      const bytes = Buffer.from(signature, 'base64url');
      bytes[0]! ^= 1;
      const jwks = createLocalJWKSet(await (await h.fetch(`${h.origin}/oidc/jwks`)).json() as JSONWebKeySet);
      await assert.rejects(jwtVerify(`${header}.${payload}.${bytes.toString('base64url')}`, jwks, { algorithms: [algorithm] }), /signature verification failed/);
    });
  });
}
