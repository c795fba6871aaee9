/**
 * A temporary block of an identity (detection's refresh-replay rule, or `gatehouse alerts block`)
 * must also stop it from getting fresh credentials at the identity provider. The gateway refuses
 * a blocked subject on every route, but the provider's endpoints are served before
 * authentication: a blocked user's client went on refreshing its tokens, a blocked service went
 * on getting client-credentials tokens, and a blocked user could sign in, each ready with fresh
 * credentials the moment the block ended. Real IdP over HTTPS, openid-client as the relying
 * party, SQLite store; blocks are placed in the store as `alerts block` places them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { sql } from 'kysely';
import { addBlock, liftBlocks } from '../../src/detect/blocks.ts';
import { IDP_COOKIE_NAMES } from '../../src/identity/oidc/cookie-names.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { followToCallback, loginAndExchange, PASSWORD, REDIRECT, rpConfig, startAuth, submitLogin } from './support/flows.ts';

describe('a blocked subject at the identity provider', () => {
  let h: Harness;
  let config: oidc.Configuration;
  let aliceId: string;
  let svcSecret: string;

  before(async () => {
    h = await startHarness('sqlite');
    aliceId = (await h.idp.accounts.addUser({ username: 'alice', password: PASSWORD })).id;
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
    svcSecret = (await h.idp.accounts.addClient({ clientId: 'billing', kind: 'service', roles: ['billing:svc'] })).secret!;
  });
  after(() => h?.close());

  const block = (subject: string) => addBlock(h.store, undefined, { kind: 'subject', value: subject, reason: 'refresh_reuse', durationMs: 60_000, createdBy: 'admin:test' });
  const lift = (id: string) => liftBlocks(h.store, undefined, { id }, 'admin:test');
  const since = (n: number, name: string) => h.events.slice(n).filter((e) => e.name === name);

  /** The token endpoint as a client calls it, answer as sent. */
  async function tokenRequest(clientId: string, secret: string, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown>; type: string | null }> {
    const res = await h.fetch(`${h.origin}/oidc/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`, accept: 'application/json' },
      body: new URLSearchParams(form).toString(),
    });
    return { status: res.status, type: res.headers.get('content-type'), body: await res.json() as Record<string, unknown> };
  }

  it('a blocked user\'s refresh token is refused with invalid_grant (RFC 6749 JSON), audited, not rotated or consumed: the same refresh token works once the block is lifted', async () => {
    const { tokens } = await loginAndExchange(h, config, 'alice');
    const refreshToken = tokens.refresh_token!;
    assert.ok(refreshToken);
    const b = await block(aliceId);
    const n = h.events.length;

    await assert.rejects(oidc.refreshTokenGrant(config, refreshToken), (e: any) => e.error === 'invalid_grant' && e.status === 400 && e.error_description === 'the subject is temporarily blocked');
    const refused = since(n, 'identity.subject.blocked');
    assert.equal(refused.length, 1, JSON.stringify(refused));
    assert.deepEqual(refused[0]!.payload, {
      subject: aliceId, endpoint: 'token', reason: 'blocked', blockId: b.id, blockedUntil: new Date(b.expiresAt).toISOString(),
      clientId: 'webapp', grantType: 'refresh_token', clientAddress: '127.0.0.1',
    });
    assert.deepEqual(since(n, 'identity.token.refreshed'), [], 'the refresh token was not consumed');
    assert.deepEqual(since(n, 'identity.token.issued'), [], 'nothing issued');

    await lift(b.id);
    const after = await oidc.refreshTokenGrant(config, refreshToken);
    assert.ok(after.access_token, 'the refresh token the client held through the block still works');
    assert.deepEqual(since(n, 'identity.refresh.reused'), [], 'and is not taken for a replay');
  });

  it('a blocked service gets no client-credentials token: 400 invalid_grant JSON, nothing issued, audited; after the lift it gets one again', async () => {
    const b = await block('billing');
    const n = h.events.length;
    const refused = await tokenRequest('billing', svcSecret, { grant_type: 'client_credentials' });
    assert.equal(refused.status, 400);
    assert.match(refused.type ?? '', /application\/json/);
    assert.deepEqual(refused.body, { error: 'invalid_grant', error_description: 'the subject is temporarily blocked' });
    assert.deepEqual(since(n, 'identity.token.issued'), []);
    const events = since(n, 'identity.subject.blocked');
    assert.equal(events.length, 1);
    assert.equal(events[0]!.payload.subject, 'billing');
    assert.equal(events[0]!.payload.grantType, 'client_credentials');
    assert.equal(events[0]!.payload.blockId, b.id);

    await lift(b.id);
    const allowed = await tokenRequest('billing', svcSecret, { grant_type: 'client_credentials' });
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
  });

  it('a blocked user who signs in with the right password is not signed in: the client gets access_denied at its redirect URI, no code, no IdP session', async () => {
    const b = await block(aliceId);
    try {
      const n = h.events.length;
      const start = await startAuth(h, config);
      const r = await submitLogin(h, start, 'alice', PASSWORD);
      const callback = await followToCallback(h, start, r.location);
      assert.equal(callback.searchParams.get('error'), 'access_denied');
      assert.equal(callback.searchParams.get('code'), null);
      assert.equal(start.browser.cookies.has(IDP_COOKIE_NAMES.session), false, 'no IdP session');
      assert.deepEqual(since(n, 'identity.login.succeeded'), []);
      assert.equal(since(n, 'identity.subject.blocked')[0]?.payload.endpoint, 'sign_in');
    } finally {
      await lift(b.id);
    }
  });

  it('a browser already signed in at the IdP gets no code for a user blocked since: sign-in is asked again (prompt=none: login_required), and refused there', async () => {
    const { start } = await loginAndExchange(h, config, 'alice');
    assert.ok(start.browser.cookies.has(IDP_COOKIE_NAMES.session), 'signed in at the IdP');
    const b = await block(aliceId);
    try {
      const authUrl = async (extra: Record<string, string>) => oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT, scope: 'openid', state: oidc.randomState(), nonce: oidc.randomNonce(),
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256', ...extra,
      });
      const silent = await followToCallback(h, start, (await start.browser.request(await authUrl({ prompt: 'none' }))).location);
      assert.equal(silent.searchParams.get('error'), 'login_required');
      assert.equal(silent.searchParams.get('code'), null);
      const interactive = await start.browser.request(await authUrl({}));
      const page = await start.browser.request(interactive.location!);
      assert.match(page.body, /name="password"/, 'the sign-in page, not a code');
    } finally {
      await lift(b.id);
    }
  });

  it('an authorization code of a user blocked before redeeming it is refused with invalid_grant', async () => {
    const start = await startAuth(h, config);
    const callback = await followToCallback(h, start, (await submitLogin(h, start, 'alice', PASSWORD)).location);
    const b = await block(aliceId);
    try {
      await assert.rejects(oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce }),
        (e: any) => e.error === 'invalid_grant');
    } finally {
      await lift(b.id);
    }
  });

  it('a blocked user\'s access token gets no userinfo (invalid_token)', async () => {
    const { tokens } = await loginAndExchange(h, config, 'alice');
    const b = await block(aliceId);
    try {
      await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, aliceId), (e: any) => {
        assert.equal(e.status, 401);
        assert.equal(e.cause?.[0]?.parameters?.error, 'invalid_token', JSON.stringify(e.cause));
        return true;
      });
    } finally {
      await lift(b.id);
    }
  });

  // (Client-credentials tokens are JWTs, which the provider does not introspect: a blocked service's
  // tokens are refused by the gateway, and it gets no new ones.)
  it('introspection of a blocked user\'s access and refresh tokens answers active: false, audited; active again after the lift', async () => {
    const { tokens } = await loginAndExchange(h, config, 'alice');
    assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, true, 'control: active before the block');
    const b = await block(aliceId);
    const n = h.events.length;
    try {
      assert.deepEqual(await oidc.tokenIntrospection(config, tokens.access_token), { active: false });
      assert.deepEqual(await oidc.tokenIntrospection(config, tokens.refresh_token!), { active: false });
      const refused = since(n, 'identity.subject.blocked');
      assert.deepEqual(refused.map((e) => [e.payload.subject, e.payload.endpoint, e.payload.reason]),
        [[aliceId, 'introspection', 'blocked'], [aliceId, 'introspection', 'blocked']]);
    } finally {
      await lift(b.id);
    }
    assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, true, 'the token is active again once the block is lifted');
  });

  it('when the blocks cannot be read, nothing is issued (fail closed): refresh and client credentials get 503 temporarily_unavailable, and the refresh token is kept for later', async () => {
    const { tokens } = await loginAndExchange(h, config, 'alice');
    const refreshToken = tokens.refresh_token!;
    // The store answers everything but the blocks.
    await sql`alter table detect_blocks rename to detect_blocks_away`.execute(h.store.db);
    const n = h.events.length;
    try {
      const refresh = await tokenRequest('webapp', (config.clientMetadata() as { client_secret: string }).client_secret, { grant_type: 'refresh_token', refresh_token: refreshToken });
      assert.equal(refresh.status, 503, JSON.stringify(refresh.body));
      assert.equal(refresh.body.error, 'temporarily_unavailable');
      const cc = await tokenRequest('billing', svcSecret, { grant_type: 'client_credentials' });
      assert.equal(cc.status, 503, JSON.stringify(cc.body));
      assert.equal(cc.body.error, 'temporarily_unavailable');
      assert.deepEqual(since(n, 'identity.token.issued'), []);
      assert.deepEqual(since(n, 'identity.subject.blocked').map((e) => e.payload.reason), ['unavailable', 'unavailable']);
    } finally {
      await sql`alter table detect_blocks_away rename to detect_blocks`.execute(h.store.db);
    }
    assert.ok((await oidc.refreshTokenGrant(config, refreshToken)).access_token, 'the refresh token was not consumed');
  });
});
