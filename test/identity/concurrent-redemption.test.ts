/**
 * Single use of authorization codes, refresh tokens and private_key_jwt client assertions
 * when the same one is presented by several requests at once (an attacker racing the client
 * with a stolen code and verifier, refresh token or assertion). On PostgreSQL, where requests
 * really overlap in the store; openid-client is the relying party.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { createAuthnRevokedTokenRepo } from '../../src/store/repos/authn-revoked-tokens-repo.ts';
import { serviceOrSkip } from '../support/services.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { followToCallback, loginAndExchange, PASSWORD, REDIRECT, rpConfig, startAuth, submitLogin } from './support/flows.ts';

const skip = await serviceOrSkip('postgres');
/** Rounds per test, each a burst of PARALLEL requests: one round that overlaps is enough to show a double use. */
const ROUNDS = 4;
const PARALLEL = 4;

describe('concurrent redemption on postgres', { skip }, () => {
  let h: Harness;
  let config: oidc.Configuration;
  let inventoryKey: CryptoKey;

  before(async () => {
    h = await startHarness('postgres');
    await h.idp.accounts.addUser({ username: 'alice', password: PASSWORD, roles: ['mail:user'] });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
    const pair = await generateKeyPair('ES256');
    inventoryKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'inventory-1', alg: 'ES256', use: 'sig' };
    await h.idp.accounts.addClient({ clientId: 'inventory', kind: 'service', roles: ['inventory:svc'], authMethod: 'private_key_jwt', jwks: { keys: [jwk] } });
  });
  after(() => h?.close());

  it('an authorization code redeemed by concurrent requests yields tokens at most once, and the grant is revoked', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const start = await startAuth(h, config);
      const callback = await followToCallback(h, start, (await submitLogin(h, start, 'alice', PASSWORD)).location);
      const results = await Promise.allSettled(Array.from({ length: PARALLEL }, () =>
        oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce })));
      const issued = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
      assert.ok(issued.length <= 1, `round ${round}: the code was redeemed ${issued.length} times`);
      for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { error?: string }).error, 'invalid_grant');
      // The replay revoked what the code gave (RFC 6749 §4.1.2).
      for (const tokens of issued) {
        assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, false, `round ${round}: access token still active`);
        await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (e: any) => e.error === 'invalid_grant');
      }
    }
  });

  it('a JWT access token issued to the winner of concurrent redemptions of a code is revoked at the gateway with the grant (attack: racing the client with a stolen code)', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const start = await startAuth(h, config, 'openid offline_access', undefined, { resource: h.origin });
      const callback = await followToCallback(h, start, (await submitLogin(h, start, 'alice', PASSWORD)).location);
      const results = await Promise.allSettled(Array.from({ length: PARALLEL }, () =>
        oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce })));
      const issued = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
      assert.ok(issued.length <= 1, `round ${round}: the code was redeemed ${issued.length} times`);
      const revoked = await createAuthnRevokedTokenRepo(h.store.db).listActive(Math.floor(Date.now() / 1000));
      for (const tokens of issued) {
        const { jti, iss } = decodeJwt(tokens.access_token);
        assert.ok(revoked.some((r) => r.issuer === iss && r.jti === jti), `round ${round}: the JWT issued while the grant was being revoked is not on the revocation list`);
        assert.ok(h.events.some((e) => e.name === 'authn.invalidated' && (e.payload as { jti?: string }).jti === jti), `round ${round}: the revocation was not announced`);
      }
    }
  });

  it('a refresh token presented by concurrent requests rotates at most once, and the grant is revoked', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { tokens } = await loginAndExchange(h, config, 'alice');
      const before = h.events.filter((e) => e.name === 'identity.refresh.reused').length;
      const results = await Promise.allSettled(Array.from({ length: PARALLEL }, () => oidc.refreshTokenGrant(config, tokens.refresh_token!)));
      const rotated = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
      assert.ok(rotated.length <= 1, `round ${round}: the refresh token was used ${rotated.length} times`);
      for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { error?: string }).error, 'invalid_grant');
      for (const next of rotated) {
        await assert.rejects(oidc.refreshTokenGrant(config, next.refresh_token!), (e: any) => e.error === 'invalid_grant', `round ${round}: rotated refresh token still usable`);
        assert.equal((await oidc.tokenIntrospection(config, next.access_token)).active, false, `round ${round}: access token still active`);
      }
      assert.ok(h.events.filter((e) => e.name === 'identity.refresh.reused').length > before, 'identity.refresh.reused emitted');
    }
  });

  it('a private_key_jwt client assertion presented by concurrent token requests authenticates once (replay refused)', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const assertion = await new SignJWT({ jti: randomUUID() })
        .setProtectedHeader({ alg: 'ES256', kid: 'inventory-1' })
        .setIssuer('inventory').setSubject('inventory').setAudience(h.origin)
        .setIssuedAt().setExpirationTime(Math.floor(Date.now() / 1000) + 60)
        .sign(inventoryKey);
      const body = new URLSearchParams({
        grant_type: 'client_credentials', client_id: 'inventory',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion,
      }).toString();
      const responses = await Promise.all(Array.from({ length: PARALLEL }, async () => {
        const res = await h.fetch(`${h.origin}/oidc/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
        return { status: res.status, body: (await res.json()) as { error?: string } };
      }));
      assert.equal(responses.filter((r) => r.status === 200).length, 1, `round ${round}: ${responses.map((r) => r.status).join(' ')}`);
      for (const r of responses) if (r.status !== 200) assert.equal(r.body.error, 'invalid_client');
    }
  });
});
