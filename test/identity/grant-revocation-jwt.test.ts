/**
 * Revoking a grant revokes its JWT access tokens at the gateway too. The IdP's JWT access
 * tokens (issued for a `resource`) are not stored like opaque ones, so before, a replayed
 * code, a reused refresh token, an RFC 7009 revocation or a logout deleted the grant's
 * stored records and left its JWTs good at the gateway until they expired. Everything here
 * runs inside one real, composed Gatehouse (IdP + gateway over one store and the in-process
 * bus), over real TLS; the JWT is presented to a route of the same gateway.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { Browser } from './support/browser.ts';
import { followToCallback, PASSWORD, REDIRECT, startAuth, submitLogin } from './support/flows.ts';
import { discover, PUBLIC_URL, startIdpGateway, type IdpGateway } from './support/gateway-idp.ts';
import { startUpstream, type TestUpstream } from '../support/gateway.ts';

const SIGNED_OUT = 'https://app.example/signed-out';

describe('revoking a grant revokes its JWT access tokens at the gateway', () => {
  let upstream: TestUpstream;
  let idp: IdpGateway;
  let config: oidc.Configuration;

  before(async () => {
    upstream = await startUpstream();
    idp = await startIdpGateway({
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'api', path: '/api', upstream: 'app', access: 'authenticated', authentication: { methods: ['jwt'] } }],
      // Detection blocks the subject of a reused refresh token for a while (a separate defence,
      // which would refuse the token at the gateway for another reason): what is tested here is
      // the revocation alone.
      detect: { refreshReuse: { enabled: false } },
    });
    await idp.accounts.addUser({ username: 'alice', password: PASSWORD, roles: ['mail:user'] });
    const app = await idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT], postLogoutRedirectUris: [SIGNED_OUT] });
    config = await discover(idp, 'webapp', app.secret!);
  });
  after(async () => {
    await idp?.close();
    await upstream?.close();
  });

  /** Signs alice in (a new browser unless one is given) and returns the callback with the code, for a JWT access token for the gateway. */
  async function authorize(scope = 'openid offline_access', browser?: Browser) {
    const start = await startAuth(idp, config, scope, browser ?? new Browser(idp.fetch), { resource: PUBLIC_URL });
    const r = await submitLogin(idp, start, 'alice', PASSWORD);
    return { start, callback: await followToCallback(idp, start, r.location) };
  }

  function redeem({ start, callback }: Awaited<ReturnType<typeof authorize>>) {
    return oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  }

  /** The gateway's answer to the token on a protected route: 200, or the error code. */
  async function atGateway(token: string): Promise<number | string> {
    const res = await idp.fetch(`${PUBLIC_URL}/api/inbox`, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.text();
    if (res.status === 200) return 200;
    return (JSON.parse(body) as { error: { code: string } }).error.code;
  }

  async function jwtOf(tokens: oidc.TokenEndpointResponse): Promise<string> {
    assert.equal(decodeJwt(tokens.access_token).aud, PUBLIC_URL, 'a JWT access token for the gateway');
    assert.equal(await atGateway(tokens.access_token), 200, 'accepted before the revocation');
    return tokens.access_token;
  }

  it('refuses the JWT access token of the first redemption once the authorization code is replayed (attack: stolen code redeemed first)', async () => {
    const code = await authorize();
    const jwt = await jwtOf(await redeem(code));
    await assert.rejects(redeem(code), (e: any) => e.error === 'invalid_grant');
    assert.equal(await atGateway(jwt), 'ERR_AUTHN_TOKEN_REVOKED');
  });

  it("refuses every JWT access token of the grant once a rotated refresh token is reused (attack: stolen refresh token)", async () => {
    const first = await redeem(await authorize());
    const firstJwt = await jwtOf(first);
    const second = await oidc.refreshTokenGrant(config, first.refresh_token!);
    const secondJwt = await jwtOf(second);
    await assert.rejects(oidc.refreshTokenGrant(config, first.refresh_token!), (e: any) => e.error === 'invalid_grant');
    assert.equal(await atGateway(firstJwt), 'ERR_AUTHN_TOKEN_REVOKED');
    assert.equal(await atGateway(secondJwt), 'ERR_AUTHN_TOKEN_REVOKED');
  });

  it("refuses the grant's JWT access tokens once its refresh token is revoked (RFC 7009)", async () => {
    const tokens = await redeem(await authorize());
    const jwt = await jwtOf(tokens);
    await oidc.tokenRevocation(config, tokens.refresh_token!, { token_type_hint: 'refresh_token' });
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (e: any) => e.error === 'invalid_grant');
    assert.equal(await atGateway(jwt), 'ERR_AUTHN_TOKEN_REVOKED');
  });

  it("refuses the JWT access tokens of the session's grants after the gateway's logout (/_gatehouse/auth/logout)", async () => {
    const code = await authorize('openid');
    const jwt = await jwtOf(await redeem(code));
    const out = await code.start.browser.request(`${PUBLIC_URL}/_gatehouse/auth/logout`, { headers: { 'sec-fetch-site': 'same-origin' } });
    assert.equal(out.status, 303, out.body.slice(0, 200));
    assert.equal(await atGateway(jwt), 'ERR_AUTHN_TOKEN_REVOKED');
  });

  it("refuses the JWT access tokens of the session's grants after RP-initiated logout (/oidc/session/end)", async () => {
    const code = await authorize('openid');
    const tokens = await redeem(code);
    const jwt = await jwtOf(tokens);
    const { browser } = code.start;
    const page = await browser.request(oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: SIGNED_OUT }));
    const action = /<form[^>]*action="([^"]+)"/.exec(page.body)?.[1];
    assert.ok(action, 'the logout confirmation form');
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.body)?.[1];
    const confirm = await browser.request(new URL(action, PUBLIC_URL), { form: { xsrf: xsrf!, logout: 'yes' } });
    assert.equal(confirm.status, 303);
    assert.equal(await atGateway(jwt), 'ERR_AUTHN_TOKEN_REVOKED');
  });

  it("keeps the JWT access token of the user's other grant valid when one grant is revoked (no over-revocation)", async () => {
    const other = await jwtOf(await redeem(await authorize()));
    const code = await authorize();
    const revoked = await jwtOf(await redeem(code));
    await assert.rejects(redeem(code), (e: any) => e.error === 'invalid_grant');
    assert.equal(await atGateway(revoked), 'ERR_AUTHN_TOKEN_REVOKED');
    assert.equal(await atGateway(other), 200, 'another sign-in of the same user is another grant');
  });
});
