/**
 * Authorization-code replay (RFC 6749 §4.1.2, OAuth 2.0 Security BCP §4.5): a code presented
 * again after it was redeemed is refused and the tokens issued from it are revoked — at the
 * identity provider and at the gateway (JWT access tokens) — also once the code has expired.
 * A presentation that fails the code's bindings (PKCE verifier, redirect_uri, client) is refused
 * and changes nothing: it neither burns an unredeemed code nor revokes a redeemed one, as whoever
 * sent it could not have obtained tokens with it (the reasoning is in
 * src/identity/oidc/redeemed-codes.ts). One real, composed Gatehouse over real TLS; openid-client
 * is the relying party.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { Browser } from './support/browser.ts';
import { followToCallback, PASSWORD, REDIRECT, startAuth, submitLogin, type AuthStart } from './support/flows.ts';
import { discover, PUBLIC_URL, startIdpGateway, type IdpGateway } from './support/gateway-idp.ts';
import { startUpstream, type TestUpstream } from '../support/gateway.ts';

/** Seconds a code lives here: long enough to redeem it, short enough to wait out. */
const CODE_TTL = 2;

describe('authorization-code replay', () => {
  let upstream: TestUpstream;
  let gw: IdpGateway;
  let config: oidc.Configuration;
  let otherClient: oidc.Configuration;

  before(async () => {
    upstream = await startUpstream();
    gw = await startIdpGateway({
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'api', path: '/api', upstream: 'app', access: 'authenticated', authentication: { methods: ['jwt'] } }],
      identity: { ttl: { authorizationCode: CODE_TTL } },
      detect: { refreshReuse: { enabled: false } },
    });
    await gw.accounts.addUser({ username: 'alice', password: PASSWORD, roles: ['mail:user'] });
    const app = await gw.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT, 'https://app.example/other-cb'] });
    config = await discover(gw, 'webapp', app.secret!);
    const other = await gw.accounts.addClient({ clientId: 'otherapp', kind: 'app', redirectUris: [REDIRECT] });
    otherClient = await discover(gw, 'otherapp', other.secret!);
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  /** Alice signs in to webapp; the callback carries the code. Asks for a JWT access token for the gateway. */
  async function authorize(): Promise<{ start: AuthStart; callback: URL }> {
    const start = await startAuth(gw, config, 'openid offline_access', new Browser(gw.fetch), { resource: PUBLIC_URL });
    return { start, callback: await followToCallback(gw, start, (await submitLogin(gw, start, 'alice', PASSWORD)).location) };
  }

  function redeem({ start, callback }: { start: AuthStart; callback: URL }, over: { verifier?: string; redirect?: string; as?: oidc.Configuration } = {}) {
    const url = over.redirect ? new URL(`${over.redirect}${callback.search}`) : callback;
    return oidc.authorizationCodeGrant(over.as ?? config, url, { pkceCodeVerifier: over.verifier ?? start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  }

  /** oidc-provider says why only in its log (error_detail); on the wire every refusal is invalid_grant. */
  const refused = (e: any) => e.error === 'invalid_grant';

  async function atGateway(token: string): Promise<number | string> {
    const res = await gw.fetch(`${PUBLIC_URL}/api/inbox`, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.text();
    return res.status === 200 ? 200 : (JSON.parse(body) as { error: { code: string } }).error.code;
  }

  /** Whether the tokens of a redemption still work: the JWT at the gateway and the refresh token. */
  async function alive(tokens: oidc.TokenEndpointResponse): Promise<{ jwt: number | string; refresh: boolean }> {
    const jwt = await atGateway(tokens.access_token);
    const refresh = (await oidc.tokenIntrospection(config, tokens.refresh_token!)).active === true;
    return { jwt, refresh };
  }

  const waitOut = () => new Promise((r) => setTimeout(r, (CODE_TTL + 1) * 1000));

  it('refuses a redeemed code presented again with its verifier and revokes the tokens of the first redemption (attack: stolen code and verifier redeemed first)', async () => {
    const code = await authorize();
    const tokens = await redeem(code);
    assert.deepEqual(await alive(tokens), { jwt: 200, refresh: true });
    await assert.rejects(redeem(code), refused);
    assert.deepEqual(await alive(tokens), { jwt: 'ERR_AUTHN_TOKEN_REVOKED', refresh: false });
  });

  it('refuses a redeemed code presented again after it expired and still revokes the tokens of the first redemption (attack: replay after the code lifetime)', async () => {
    const code = await authorize();
    const tokens = await redeem(code);
    await waitOut();
    await assert.rejects(redeem(code), refused);
    assert.deepEqual(await alive(tokens), { jwt: 'ERR_AUTHN_TOKEN_REVOKED', refresh: false });
  });

  it('refuses an unredeemed code with a wrong PKCE verifier without burning it: the client still redeems it (attack: a code thief ending the victim\'s sign-in)', async () => {
    const code = await authorize();
    await assert.rejects(redeem(code, { verifier: oidc.randomPKCECodeVerifier() }), refused);
    const tokens = await redeem(code);
    assert.deepEqual(await alive(tokens), { jwt: 200, refresh: true });
  });

  it('refuses a redeemed code with a wrong PKCE verifier, and the tokens of its redemption stay valid (attack: a code thief without the verifier ending the victim\'s sign-in)', async () => {
    const code = await authorize();
    const tokens = await redeem(code);
    await assert.rejects(redeem(code, { verifier: oidc.randomPKCECodeVerifier() }), refused);
    assert.deepEqual(await alive(tokens), { jwt: 200, refresh: true });
    // Also once the code has expired.
    await waitOut();
    await assert.rejects(redeem(code, { verifier: oidc.randomPKCECodeVerifier() }), refused);
    assert.deepEqual(await alive(tokens), { jwt: 200, refresh: true });
  });

  it('refuses a code sent with another registered redirect_uri without burning it, and without revoking once redeemed (attack: code injected into another callback)', async () => {
    const code = await authorize();
    await assert.rejects(redeem(code, { redirect: 'https://app.example/other-cb' }), refused);
    const tokens = await redeem(code);
    await assert.rejects(redeem(code, { redirect: 'https://app.example/other-cb' }), refused);
    assert.deepEqual(await alive(tokens), { jwt: 200, refresh: true });
  });

  it("refuses a code redeemed by another client without burning it, and without revoking once redeemed (attack: another relying party redeeming a stolen code)", async () => {
    const code = await authorize();
    await assert.rejects(redeem(code, { as: otherClient }), refused);
    const tokens = await redeem(code);
    await assert.rejects(redeem(code, { as: otherClient }), refused);
    assert.deepEqual(await alive(tokens), { jwt: 200, refresh: true });
  });

  it('refuses an expired code never redeemed, and revokes nothing of the user (attack: replay of a code left in browser history)', async () => {
    const other = await redeem(await authorize());
    const code = await authorize();
    await waitOut();
    await assert.rejects(redeem(code), refused);
    assert.deepEqual(await alive(other), { jwt: 200, refresh: true });
  });
});
