/**
 * The OpenID provider end to end with openid-client as a real relying party, over real
 * HTTPS, on SQLite and on PostgreSQL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import { startHarness, type Backend, type Harness } from './support/harness.ts';
import { loginAndExchange, PASSWORD, REDIRECT, rpConfig, startAuth } from './support/flows.ts';
import { serviceOrSkip } from '../support/services.ts';

for (const backend of ['sqlite', 'postgres'] as Backend[]) {
  const skip = backend === 'postgres' ? await serviceOrSkip('postgres') : false;
  describe(`identity provider flows on ${backend}`, { skip }, () => {
    let h: Harness;
    let config: oidc.Configuration;
    let svcSecret: string;

    before(async () => {
      h = await startHarness(backend, { ttl: { accessToken: 2 } });
      await h.idp.accounts.addUser({ username: 'alice', email: 'alice@example.com', emailVerified: true, password: PASSWORD, roles: ['mail:user'] });
      const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
      config = await rpConfig(h, 'webapp', app.secret!);
      const svc = await h.idp.accounts.addClient({ clientId: 'billing', kind: 'service', roles: ['billing:svc'], allowedScopes: ['mail:read'] });
      svcSecret = svc.secret!;
    });
    after(() => h?.close());

    it('publishes discovery and a JWKS whose active key is ES256', async () => {
      const meta = config.serverMetadata();
      assert.equal(meta.issuer, h.origin);
      assert.equal(meta.token_endpoint, `${h.origin}/oidc/token`);
      assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
      const jwks = await (await h.fetch(meta.jwks_uri!)).json() as { keys: Record<string, unknown>[] };
      assert.equal(jwks.keys[0]!.alg, 'ES256');
      assert.ok(jwks.keys.every((k) => k.d === undefined), 'no private key material in the JWKS');
    });

    it('signs a user in with authorization code + PKCE and serves userinfo', async () => {
      const { tokens } = await loginAndExchange(h, config, 'alice');
      const claims = tokens.claims()!;
      assert.match(claims.sub, /^usr_/);
      const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      assert.equal(info.email, 'alice@example.com');
      assert.ok(h.events.some((e) => e.name === 'identity.login.succeeded' && e.payload.subject === claims.sub));
    });

    it('refuses an authorization request with code_challenge_method=plain', async () => {
      const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' });
      const r = await h.fetch(url, { redirect: 'manual' });
      const location = new URL(r.headers.get('location')!);
      assert.equal(location.searchParams.get('error'), 'invalid_request');
    });

    it('does not redirect to an unregistered redirect URI', async () => {
      const url = oidc.buildAuthorizationUrl(config, { redirect_uri: 'https://evil.example/cb', scope: 'openid', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' });
      const r = await h.fetch(url, { redirect: 'manual' });
      assert.equal(r.status, 400);
      assert.equal(r.headers.get('location'), null);
    });

    it('rotates refresh tokens, and a replayed refresh token revokes the whole grant', async () => {
      const { tokens } = await loginAndExchange(h, config, 'alice');
      const second = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      assert.notEqual(second.refresh_token, tokens.refresh_token);
      await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (e: any) => e.error === 'invalid_grant');
      // The attacker's replay also killed the legitimate holder's newer token.
      await assert.rejects(oidc.refreshTokenGrant(config, second.refresh_token!), (e: any) => e.error === 'invalid_grant');
      const reuse = h.events.find((e) => e.name === 'identity.refresh.reused');
      assert.ok(reuse, 'identity.refresh.reused emitted');
      // Who presented the used token, for the audit record's client address and the investigation.
      assert.match(String((reuse.payload as Record<string, unknown>).clientAddress), /^(::ffff:)?127\.0\.0\.1$/);
      const introspected = await oidc.tokenIntrospection(config, second.access_token);
      assert.equal(introspected.active, false, 'access tokens of the revoked grant are dead too');
    });

    it('issues a JWT access token (RFC 9068) to a service account with client credentials', async () => {
      const svc = await rpConfig(h, 'billing', svcSecret);
      const res = await oidc.clientCredentialsGrant(svc, { scope: 'mail:read' });
      assert.equal(decodeProtectedHeader(res.access_token).typ, 'at+jwt');
      const jwks = createRemoteJWKSet(new URL(`${h.origin}/oidc/jwks`), { [Symbol.for('jose.customFetch')]: h.fetch } as any);
      const { payload } = await jwtVerify(res.access_token, async (header) => {
        const set = await (await h.fetch(`${h.origin}/oidc/jwks`)).json() as { keys: any[] };
        const { importJWK } = await import('jose');
        return importJWK(set.keys.find((k) => k.kid === header.kid), header.alg);
      }, { issuer: h.origin, audience: h.origin, typ: 'at+jwt' });
      void jwks;
      assert.equal(payload.client_id, 'billing');
      assert.equal(payload.sub, 'billing');
      assert.deepEqual(payload.roles, ['billing:svc']);
      assert.equal(payload.scope, 'mail:read');
    });

    it('refuses client credentials with a wrong secret', async () => {
      const svc = await rpConfig(h, 'billing', 'ghcs_wrong');
      await assert.rejects(oidc.clientCredentialsGrant(svc, {}), (e: any) => e.error === 'invalid_client');
    });

    it('introspects active, expired and revoked tokens', async () => {
      const { tokens } = await loginAndExchange(h, config, 'alice');
      assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, true);
      await oidc.tokenRevocation(config, tokens.access_token);
      assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, false, 'revoked');
      const { tokens: other } = await loginAndExchange(h, config, 'alice');
      await new Promise((r) => setTimeout(r, 3100)); // access token TTL is 2 s in this suite
      assert.equal((await oidc.tokenIntrospection(config, other.access_token)).active, false, 'expired');
    });

    it('keeps verifying tokens signed with the previous key after rotateKeys()', async () => {
      const svc = await rpConfig(h, 'billing', svcSecret);
      const before = await oidc.clientCredentialsGrant(svc, {});
      const oldKid = decodeProtectedHeader(before.access_token).kid;
      const rotated = await h.idp.rotateKeys();
      assert.equal(rotated.previousKid, oldKid);
      const after = await oidc.clientCredentialsGrant(svc, {});
      assert.equal(decodeProtectedHeader(after.access_token).kid, rotated.kid);
      const jwks = await (await h.fetch(`${h.origin}/oidc/jwks`)).json() as { keys: { kid: string }[] };
      assert.deepEqual(jwks.keys.map((k) => k.kid), [rotated.kid, oldKid]);
      assert.ok(h.events.some((e) => e.name === 'identity.keys.rotated'));
    });

    it('signs in again after a restart without losing keys or sessions (state lives in the store)', async () => {
      const jwksBefore = await (await h.fetch(`${h.origin}/oidc/jwks`)).json();
      await h.idp.reloadKeys();
      const jwksAfter = await (await h.fetch(`${h.origin}/oidc/jwks`)).json();
      assert.deepEqual(jwksAfter, jwksBefore);
      const start = await startAuth(h, config);
      assert.match(start.loginPage, /name="csrf"/);
    });
  });
}
