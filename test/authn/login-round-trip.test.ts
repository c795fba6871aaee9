/**
 * The browser login, end to end through a real gateway: real HTTPS listener, the real
 * identity provider and authn components over a real store, the real login page with its
 * CSRF token, openid-client as the gateway's relying party, and a real upstream that must
 * see who logged in. The public URL is `https://gw.test`; the test's browser connects every
 * host name to the gateway's ephemeral loopback port, as DNS would.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import * as oidc from 'openid-client';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import { parseConfig } from '../../src/core/config/load.ts';
import type { ConfigInput } from '../../src/core/config/schema.ts';
import { openStore } from '../../src/store/open-store.ts';
import { createKvRepo } from '../../src/store/repos/kv-repo.ts';
import type { Store } from '../../src/store/types.ts';
import { MemoryEventBus } from '../../src/bus/memory-bus.ts';
import { createIdentityComponent, type IdentityComponent } from '../../src/gateway/extensions/identity.ts';
import type { Platform } from '../../src/gateway/extensions/platform.ts';
import { createAssertionSigner } from '../../src/gateway/assertion/signer.ts';
import { createUpstreamIdentityStage } from '../../src/gateway/assertion/upstream-identity.ts';
import type { GatewayExtension } from '../../src/gateway/gateway.ts';
import { createAuthnComponent, type AuthnComponent } from '../../src/authn/authn-component.ts';
import { SESSION_COOKIE } from '../../src/authn/session/cookies.ts';
import { IDP_COOKIE_NAMES } from '../../src/identity/oidc/cookie-names.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { Browser, formAction, inputValue } from '../identity/support/browser.ts';
import { addBlock, liftBlocks } from '../../src/detect/blocks.ts';
import { browserFetchVia } from './support/browser-fetch.ts';

const PUBLIC = 'https://gw.test';
const PASSWORD = 'correct horse battery staple';
const REDIRECT = 'https://app.example/cb';
const NAVIGATE = { 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'none', accept: 'text/html' };

describe('browser login round trip through a real gateway and the real identity provider', () => {
  let dir: string;
  let store: Store;
  let bus: MemoryEventBus;
  let upstream: TestUpstream;
  let gw: TestGateway;
  let identity: IdentityComponent;
  let authn: AuthnComponent;
  let port = 0;
  let userId = '';
  // Every connection goes to the gateway, whatever the host name (the port is known only after start).
  const connector = buildConnector({ rejectUnauthorized: false });
  const dispatcher = new Agent({ connect: (opts, cb) => connector({ ...opts, hostname: '127.0.0.1', port: String(port), servername: 'localhost' }, cb) });
  const viaGateway = ((url: string | URL, init: Record<string, unknown> = {}) => undiciFetch(url, { ...init, dispatcher })) as unknown as typeof fetch;
  const browserFetch = browserFetchVia(dispatcher);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-login-'));
    upstream = await startUpstream();
    const input: ConfigInput = {
      mode: 'development',
      publicUrl: PUBLIC,
      dataDir: dir,
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'authenticated', authentication: { methods: ['session'], browserLogin: true }, upstreamIdentity: { assertion: 'per-request', headers: true } }],
    };
    const config = parseConfig({ ...input, listeners: { https: { host: '127.0.0.1', port: 0 }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } } }, { env: process.env, source: 'test' }).config;
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    await store.migrate();
    bus = new MemoryEventBus({ instanceId: 'gw-test' });
    const logger = pino({ level: process.env.GH_TEST_LOG ?? 'silent' });
    const platform = { config, store, bus, logger } as unknown as Platform;
    identity = await createIdentityComponent(platform);
    const user = await identity.idp.accounts.addUser({ username: 'alice', password: PASSWORD, roles: ['reader'] });
    userId = user.id;
    authn = await createAuthnComponent(platform, { identity: identity.idp, loginFetch: viaGateway });
    const signer = await createAssertionSigner({ issuer: PUBLIC });
    const upstreamIdentity: GatewayExtension = { name: 'upstream-identity', stages: () => ({ identity: createUpstreamIdentityStage({ signer }) }) };
    gw = await startGateway(input, { extensions: [identity.extension, authn.extension, upstreamIdentity] });
    port = Number(new URL(gw.url).port);
  });

  after(async () => {
    await gw?.close();
    await upstream?.close();
    await bus?.close();
    await store?.close();
    await dispatcher.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** From a protected page to the page again, through the IdP's login form. Returns the browser's session cookie. */
  async function logIn(browser: Browser, path = '/app/inbox?folder=1', viaProtectedPage = true): Promise<string> {
    let loginStart = `${PUBLIC}/_gatehouse/auth/login?return_to=${encodeURIComponent(path)}`;
    if (viaProtectedPage) {
      const first = await browser.request(PUBLIC + path, { headers: NAVIGATE });
      assert.equal(first.status, 302, `protected page: ${first.status} ${first.body.slice(0, 200)}`);
      assert.equal(first.location, loginStart);
      loginStart = first.location!;
    }
    const start = await browser.request(loginStart, { headers: NAVIGATE });
    assert.equal(start.status, 303);
    assert.ok(start.location?.startsWith(`${PUBLIC}/oidc/auth?`), start.location);
    const authorize = new URL(start.location!);
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(authorize.searchParams.get('state') && authorize.searchParams.get('nonce'));
    const atCallback = (location: string | undefined) => location?.startsWith(`${PUBLIC}/_gatehouse/auth/callback?`) === true;
    let next = await browser.request(start.location!, { headers: NAVIGATE });
    let hops = 0;
    while (next.location && !atCallback(next.location) && hops++ < 5) next = await browser.request(next.location, { headers: NAVIGATE });
    if (!atCallback(next.location)) {
      // No single sign-on session at the IdP yet: its login form, with its CSRF token.
      assert.equal(next.status, 200, 'login page');
      const csrf = inputValue(next.body, 'csrf');
      assert.ok(csrf, 'the login form carries a CSRF token');
      const action = formAction(next.body, 'login');
      assert.ok(action, 'login form action');
      next = await browser.request(new URL(action!, PUBLIC), { form: { csrf: csrf!, username: 'alice', password: PASSWORD }, headers: { 'sec-fetch-site': 'same-origin', origin: PUBLIC } });
    }
    hops = 0;
    while (next.location && !next.location.startsWith(`${PUBLIC}/_gatehouse/auth/callback`) && hops++ < 8) next = await browser.request(next.location, { headers: NAVIGATE });
    assert.ok(next.location?.startsWith(`${PUBLIC}/_gatehouse/auth/callback?`), `reached the callback: ${next.status} ${next.location} ${next.body.slice(0, 300)}`);
    const callback = await browser.request(next.location!, { headers: NAVIGATE });
    assert.equal(callback.status, 303, `callback: ${callback.body.slice(0, 300)}`);
    assert.equal(callback.location, PUBLIC + path);
    const setCookie = callback.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    assert.ok(setCookie, 'session cookie set');
    assert.match(setCookie!, /; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=\d+/);
    return browser.cookies.get(SESSION_COOKIE)!.value;
  }

  it('logs a browser in and serves the original URL with the identity reaching the upstream', async () => {
    const browser = new Browser(browserFetch);
    await logIn(browser);
    browser.cookies.set('theme', { value: 'dark', path: '/' });
    const before = upstream.received.length;
    const page = await browser.request(`${PUBLIC}/app/inbox?folder=1`, { headers: NAVIGATE });
    assert.equal(page.status, 200, page.body.slice(0, 300));
    const seen = upstream.received[before]!;
    assert.equal(seen.url, '/app/inbox?folder=1');
    assert.equal(seen.headers['x-gatehouse-subject'], userId);
    assert.ok(seen.headers['x-gatehouse-identity'] ?? Object.keys(seen.headers).some((h) => h.startsWith('x-gatehouse-') && h !== 'x-gatehouse-subject'), 'a signed assertion travels too');
    assert.equal(seen.headers.cookie, 'theme=dark', 'the application\'s cookies pass, Gatehouse\'s own (session, IdP) do not');
  });

  it("does not forward the IdP's cookies (__Host-gh_idp_session and .sig, __Secure- interaction/resume, the old gh_idp_* names) to an upstream (IdP session leaking to a service)", async () => {
    const browser = new Browser(browserFetch);
    await logIn(browser);
    assert.ok(browser.cookies.has(IDP_COOKIE_NAMES.session) && browser.cookies.has(`${IDP_COOKIE_NAMES.session}.sig`), 'the browser holds the IdP session');
    // Path-scoped cookies and the names from before the rename, as a browser may still send them.
    for (const name of [IDP_COOKIE_NAMES.interaction, IDP_COOKIE_NAMES.resume, 'gh_idp_session', 'gh_idp_session.sig']) browser.cookies.set(name, { value: 'x', path: '/' });
    browser.cookies.set('theme', { value: 'dark', path: '/' });
    const before = upstream.received.length;
    const page = await browser.request(`${PUBLIC}/app/inbox?folder=1`, { headers: NAVIGATE });
    assert.equal(page.status, 200, page.body.slice(0, 300));
    assert.equal(upstream.received[before]!.headers.cookie, 'theme=dark');
  });

  it('rotates the session id at login: a session the browser brought (possibly planted) ends', async () => {
    const browser = new Browser(browserFetch);
    const first = await logIn(browser);
    // Logging in again carries the current session cookie along: it must be replaced, not kept.
    const second = await logIn(browser, '/app/again', false);
    assert.notEqual(second, first);
    const stale = new Browser(browserFetch);
    stale.cookies.set(SESSION_COOKIE, { value: first, path: '/' });
    const r = await stale.request(`${PUBLIC}/app/x`, { headers: { accept: 'application/json' } });
    assert.equal(r.status, 401);
    assert.equal(JSON.parse(r.body).error.code, 'ERR_AUTHN_SESSION_INVALID');
    assert.equal((await browser.request(`${PUBLIC}/app/x`)).status, 200);
  });

  it('ends the session at logout: the next request with the old cookie is refused', async () => {
    const browser = new Browser(browserFetch);
    const cookie = await logIn(browser);
    const out = await browser.request(`${PUBLIC}/_gatehouse/auth/logout`, { headers: NAVIGATE });
    assert.equal(out.status, 303);
    assert.equal(browser.cookies.has(SESSION_COOKIE), false, 'logout clears the cookie');
    const replay = new Browser(browserFetch);
    replay.cookies.set(SESSION_COOKIE, { value: cookie, path: '/' });
    const r = await replay.request(`${PUBLIC}/app/x`, { headers: { accept: 'application/json' } });
    assert.equal(r.status, 401);
    assert.equal(JSON.parse(r.body).error.code, 'ERR_AUTHN_SESSION_INVALID');
    const nav = await replay.request(`${PUBLIC}/app/x`, { headers: NAVIGATE });
    assert.equal(nav.status, 302, 'a browser is sent to log in again');
  });

  /** The IdP's sign-in session cookies of a browser (`__Host-gh_idp_session` and its signature). */
  function idpCookies(browser: Browser): Map<string, { value: string; path: string }> {
    return new Map([...browser.cookies].filter(([name]) => name.startsWith(IDP_COOKIE_NAMES.session)));
  }

  /** A browser that carries only the given cookies (what a shared machine kept, or a copy of them). */
  function browserWith(cookies: Map<string, { value: string; path: string }>): Browser {
    const browser = new Browser(browserFetch);
    for (const [name, cookie] of cookies) browser.cookies.set(name, { ...cookie });
    return browser;
  }

  /**
   * A visit to a protected page, through the gateway's login and the IdP: 'password' when the
   * IdP shows its sign-in form, 'no password' when it sends the browser straight back to the
   * gateway's callback (single sign-on from an IdP session), which then starts a session.
   */
  async function nextLogin(browser: Browser): Promise<'password' | 'no password'> {
    let r = await browser.request(`${PUBLIC}/app/x`, { headers: NAVIGATE });
    assert.equal(r.status, 302, 'sent to the login');
    for (let hops = 0; r.location !== undefined && hops < 10; hops++) {
      if (r.location.startsWith(`${PUBLIC}/_gatehouse/auth/callback?`)) {
        const callback = await browser.request(r.location, { headers: NAVIGATE });
        assert.equal(callback.status, 303, `callback: ${callback.body.slice(0, 200)}`);
        return 'no password';
      }
      r = await browser.request(r.location, { headers: NAVIGATE });
    }
    assert.equal(r.status, 200, `ended at ${r.status} ${r.body.slice(0, 200)}`);
    assert.ok(formAction(r.body, 'login') && /name="password"/.test(r.body), 'the IdP\'s sign-in form');
    return 'password';
  }

  it('after gateway logout the next browser login asks for the password again (shared-machine sign-in reuse)', async () => {
    const browser = new Browser(browserFetch);
    await logIn(browser);
    const kept = idpCookies(browser);
    assert.ok(kept.has(IDP_COOKIE_NAMES.session), 'the login left an IdP sign-in session in the browser');
    const out = await browser.request(`${PUBLIC}/_gatehouse/auth/logout`, { headers: NAVIGATE });
    assert.equal(out.status, 303);
    assert.equal(browser.cookies.has(SESSION_COOKIE), false, 'the gateway session cookie is removed');
    assert.deepEqual([...idpCookies(browser).keys()], [], 'the IdP session cookies are removed');
    assert.equal(await nextLogin(browser), 'password', 'the next visitor of this browser must sign in');
    // Ended at the IdP, not only forgotten by the browser: its old cookie signs nobody in.
    assert.equal(await nextLogin(browserWith(kept)), 'password', 'the IdP session the cookie named is gone');
  });

  it('refuses a cross-site logout (forced-logout CSRF): the gateway session and the IdP sign-in both survive', async () => {
    const browser = new Browser(browserFetch);
    await logIn(browser);
    const forged: Record<string, string>[] = [
      { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', accept: 'application/json' },
      { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'navigate', accept: 'application/json' },
      // A browser too old for Sec-Fetch-Site still says where a form post came from.
      { origin: 'https://evil.example', accept: 'application/json' },
    ];
    for (const headers of forged) {
      const r = await browser.request(`${PUBLIC}/_gatehouse/auth/logout`, { method: 'POST', headers });
      assert.equal(r.status, 403, JSON.stringify(headers));
      assert.equal(JSON.parse(r.body).error.code, 'ERR_AUTHN_CSRF');
      assert.equal(r.headers.getSetCookie().length, 0, 'no cookie removed');
    }
    assert.equal((await browser.request(`${PUBLIC}/app/x`)).status, 200, 'still signed in at the gateway');
    assert.equal(await nextLogin(browserWith(idpCookies(browser))), 'no password', 'still signed in at the IdP');
  });

  it('logs out when the IdP sign-in session is already gone (expired or ended at the IdP)', async () => {
    const browser = new Browser(browserFetch);
    const cookie = await logIn(browser);
    // What expiry does to it: the record leaves the store, the browser keeps its cookie.
    assert.equal(await createKvRepo(store.db).destroy('oidc:Session', browser.cookies.get(IDP_COOKIE_NAMES.session)!.value), true);
    const out = await browser.request(`${PUBLIC}/_gatehouse/auth/logout?return_to=/bye`, { headers: NAVIGATE });
    assert.equal(out.status, 303, out.body.slice(0, 200));
    assert.equal(out.location, `${PUBLIC}/bye`);
    const replay = browserWith(new Map([[SESSION_COOKIE, { value: cookie, path: '/' }]]));
    assert.equal((await replay.request(`${PUBLIC}/app/x`, { headers: { accept: 'application/json' } })).status, 401, 'the gateway session ended');
    // A browser with no IdP session at all logs out too.
    const bare = await new Browser(browserFetch).request(`${PUBLIC}/_gatehouse/auth/logout`, { headers: NAVIGATE });
    assert.equal(bare.status, 303);
    assert.equal(await nextLogin(browser), 'password');
  });

  it('at gateway logout, another application signed in through the same IdP session loses its grant and must sign in again; an offline_access grant keeps its refresh token', async () => {
    const clientId = 'webapp';
    const webapp = await identity.idp.accounts.addClient({ clientId, kind: 'app', redirectUris: [REDIRECT] });
    const rp = await oidc.discovery(new URL(PUBLIC), clientId, webapp.secret!, undefined, { [oidc.customFetch]: viaGateway as oidc.CustomFetch });
    /** The webapp's authorization in this browser: tokens when the IdP answers without asking, else the error it sent back. */
    const authorize = async (browser: Browser, params: Record<string, string>) => {
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      let r = await browser.request(oidc.buildAuthorizationUrl(rp, { redirect_uri: REDIRECT, state, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...params }), { headers: NAVIGATE });
      for (let hops = 0; r.location?.startsWith(PUBLIC) && hops < 8; hops++) r = await browser.request(r.location, { headers: NAVIGATE });
      assert.ok(r.location?.startsWith(REDIRECT), `the webapp got an answer without a sign-in form: ${r.status} ${r.location}`);
      const back = new URL(r.location!);
      if (back.searchParams.has('error')) return { error: back.searchParams.get('error')! };
      return { tokens: await oidc.authorizationCodeGrant(rp, back, { pkceCodeVerifier: verifier, expectedState: state }) };
    };
    const browser = new Browser(browserFetch);
    await logIn(browser);
    // Single sign-on: the webapp signs alice in from the IdP session the gateway's login made.
    const online = (await authorize(browser, { scope: 'openid' })).tokens!;
    const offline = (await authorize(browser, { scope: 'openid offline_access', prompt: 'consent' })).tokens!;
    assert.ok(offline.refresh_token, 'offline_access gave a refresh token');
    assert.ok(await oidc.fetchUserInfo(rp, online.access_token, oidc.skipSubjectCheck));

    assert.equal((await browser.request(`${PUBLIC}/_gatehouse/auth/logout`, { headers: NAVIGATE })).status, 303);
    assert.deepEqual(await authorize(browser, { scope: 'openid', prompt: 'none' }), { error: 'login_required' }, 'the webapp\'s next sign-in needs the password');
    await assert.rejects(oidc.fetchUserInfo(rp, online.access_token, oidc.skipSubjectCheck), 'the access token of the ended sign-in is revoked');
    // oidc-provider keeps offline_access grants across logouts (it is what offline access means).
    assert.ok((await oidc.refreshTokenGrant(rp, offline.refresh_token!)).access_token);
  });

  it('a blocked user who types the right password gets 403 ERR_AUTHN_LOGIN_DENIED at the callback and no session (not a login-state error)', async () => {
    const b = await addBlock(store, undefined, { kind: 'subject', value: userId, reason: 'brute_force', durationMs: 60_000, createdBy: 'admin:test' });
    try {
      const browser = new Browser(browserFetch);
      const start = await browser.request(`${PUBLIC}/_gatehouse/auth/login?return_to=/app/inbox`, { headers: NAVIGATE });
      assert.equal(start.status, 303);
      let next = await browser.request(start.location!, { headers: NAVIGATE });
      for (let hops = 0; next.location && hops < 5; hops++) next = await browser.request(next.location, { headers: NAVIGATE });
      assert.equal(next.status, 200, 'the IdP\'s login page');
      next = await browser.request(new URL(formAction(next.body, 'login')!, PUBLIC), { form: { csrf: inputValue(next.body, 'csrf')!, username: 'alice', password: PASSWORD }, headers: { 'sec-fetch-site': 'same-origin', origin: PUBLIC } });
      for (let hops = 0; next.location && !next.location.startsWith(`${PUBLIC}/_gatehouse/auth/callback`) && hops < 8; hops++) next = await browser.request(next.location, { headers: NAVIGATE });
      assert.ok(next.location?.startsWith(`${PUBLIC}/_gatehouse/auth/callback?`), `reached the callback: ${next.status} ${next.location}`);
      assert.equal(new URL(next.location!).searchParams.get('error'), 'access_denied');
      const callback = await browser.request(next.location!, { headers: { accept: 'application/json' } });
      assert.equal(callback.status, 403, callback.body.slice(0, 300));
      assert.equal(JSON.parse(callback.body).error.code, 'ERR_AUTHN_LOGIN_DENIED');
      assert.equal(browser.cookies.get(SESSION_COOKIE), undefined, 'no gateway session');
      // A forged error response (no matching state) is still a login-state error, not a believed denial.
      const forged = new Browser(browserFetch);
      await forged.request(`${PUBLIC}/_gatehouse/auth/login?return_to=/app`, { headers: NAVIGATE });
      const planted = await forged.request(`${PUBLIC}/_gatehouse/auth/callback?error=access_denied&state=forged`, { headers: { accept: 'application/json' } });
      assert.equal(JSON.parse(planted.body).error.code, 'ERR_AUTHN_LOGIN_STATE_INVALID');
    } finally {
      await liftBlocks(store, undefined, { id: b.id }, 'admin:test');
    }
  });

  it('refuses a replayed callback (the pending login is single use)', async () => {
    const browser = new Browser(browserFetch);
    const start = await browser.request(`${PUBLIC}/_gatehouse/auth/login?return_to=/app`, { headers: NAVIGATE });
    assert.equal(start.status, 303);
    const forged = await browser.request(`${PUBLIC}/_gatehouse/auth/callback?code=stolen&state=x`, { headers: { accept: 'application/json' } });
    assert.equal(forged.status, 400);
    assert.equal(JSON.parse(forged.body).error.code, 'ERR_AUTHN_LOGIN_STATE_INVALID');
    // The forged callback used the pending login up; the real one cannot come back later.
    const again = await browser.request(`${PUBLIC}/_gatehouse/auth/callback?code=stolen&state=x`, { headers: { accept: 'application/json' } });
    assert.equal(JSON.parse(again.body).error.code, 'ERR_AUTHN_LOGIN_STATE_INVALID');
  });
});
