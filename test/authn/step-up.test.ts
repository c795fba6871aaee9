/**
 * Step-up MFA (routes' `stepUp`) through a real gateway over real TLS, with the real identity
 * provider and authn components over a real store: bearer JWTs of the gateway's own issuer
 * (its JWKS carries the test's key as well, so claims such as `amr` and `auth_time` can be
 * chosen), an API token from the IdP, and a browser that logs in over HTTP through the real
 * sign-in pages, TOTP step included. Users holding the role `mfa` (identity.mfa.requiredForRoles)
 * enrol TOTP at their first ordinary sign-in, which is not itself a second factor; a step-up
 * sign-in never enrols (step-up-enrolment.test.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { generate } from 'otplib';
import { Agent, buildConnector, fetch as undiciFetch, request } from 'undici';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import * as oidc from 'openid-client';
import { parseConfig } from '../../src/core/config/load.ts';
import type { ConfigInput } from '../../src/core/config/schema.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { MemoryEventBus } from '../../src/bus/memory-bus.ts';
import type { Envelope } from '../../src/core/events.ts';
import { createIdentityComponent, type IdentityComponent } from '../../src/gateway/extensions/identity.ts';
import type { Platform } from '../../src/gateway/extensions/platform.ts';
import type { IdentityProvider } from '../../src/identity/identity-provider.ts';
import { createAuthnComponent } from '../../src/authn/authn-component.ts';
import { SESSION_COOKIE } from '../../src/authn/session/cookies.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { Browser, formAction, inputValue } from '../identity/support/browser.ts';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import { browserFetchVia } from './support/browser-fetch.ts';

const PUBLIC = 'https://gw.test';
const PASSWORD = 'correct horse battery staple';
const NAVIGATE = { 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'none', accept: 'text/html' };
const MAX_AGE = 300;

describe('step-up MFA on a route through a real gateway and the real identity provider', () => {
  let dir: string;
  let store: Store;
  let bus: MemoryEventBus;
  let upstream: TestUpstream;
  let gw: TestGateway;
  let identity: IdentityComponent;
  let port = 0;
  let userId = '';
  let key: { privateKey: CryptoKey; kid: string };
  const events: Envelope[] = [];
  const connector = buildConnector({ rejectUnauthorized: false });
  const dispatcher = new Agent({ connect: (opts, cb) => connector({ ...opts, hostname: '127.0.0.1', port: String(port), servername: 'localhost' }, cb) });
  const viaGateway = ((url: string | URL, init: Record<string, unknown> = {}) => undiciFetch(url, { ...init, dispatcher })) as unknown as typeof fetch;
  const browserFetch = browserFetchVia(dispatcher);

  async function call(path: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
    const res = await request(PUBLIC + path, { method: (init.method ?? 'GET') as 'GET', headers: init.headers ?? {}, dispatcher });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  }

  /** A token of the gateway's own issuer for the user, with the given login facts. */
  async function ownToken(claims: Record<string, unknown>): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: identity.idp.issuer, aud: PUBLIC, sub: userId, iat: now, exp: now + 300, jti: `t-${Math.random()}`, ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' }).sign(key.privateKey);
  }

  /** The memory bus delivers on a later tick. */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

  function stepUpEvents(): Envelope<'authn.step_up.required'>[] {
    return events.filter((e): e is Envelope<'authn.step_up.required'> => e.name === 'authn.step_up.required');
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-step-up-'));
    upstream = await startUpstream();
    const input: ConfigInput = {
      mode: 'development',
      publicUrl: PUBLIC,
      dataDir: dir,
      identity: { mfa: { requiredForRoles: ['mfa'] } },
      upstreams: { app: { url: upstream.url } },
      routes: [
        {
          id: 'admin', path: '/admin', upstream: 'app', access: 'authenticated',
          authentication: { methods: ['session', 'jwt', 'api_token'], browserLogin: true },
          stepUp: { maxAgeSeconds: MAX_AGE, methods: ['GET', 'HEAD', 'POST', 'DELETE'] },
        },
        {
          // A maxAgeSeconds shorter than a sign-in takes: the step-up login cannot satisfy it.
          id: 'flash', path: '/flash', upstream: 'app', access: 'authenticated',
          authentication: { methods: ['session'], browserLogin: true },
          stepUp: { maxAgeSeconds: 1 },
        },
        {
          id: 'admin-ws', path: '/admin-ws', upstream: 'app', access: 'authenticated', websocket: true,
          authentication: { methods: ['session', 'jwt', 'api_token'], browserLogin: true },
          stepUp: { maxAgeSeconds: MAX_AGE },
        },
      ],
    };
    const config = parseConfig({ ...input, listeners: { https: { host: '127.0.0.1', port: 0 }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } } }, { env: process.env, source: 'test' }).config;
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    await store.migrate();
    bus = new MemoryEventBus({ instanceId: 'gw-test' });
    bus.subscribe(['authn.step_up.required'], (e) => { events.push(e); });
    const logger = pino({ level: process.env.GH_TEST_LOG ?? 'silent' });
    const platform = { config, store, bus, logger } as unknown as Platform;
    identity = await createIdentityComponent(platform);
    userId = (await identity.idp.accounts.addUser({ username: 'alice', password: PASSWORD, roles: ['admin', 'mfa'] })).id;
    const pair = await generateKeyPair('ES256');
    key = { privateKey: pair.privateKey, kid: 'test-own' };
    const testJwk = { ...(await exportJWK(pair.publicKey)), kid: key.kid, alg: 'ES256', use: 'sig' };
    // The IdP's own keys plus the test's: tokens the test signs are tokens of the gateway's own issuer.
    const idp: IdentityProvider = { ...identity.idp, issuer: identity.idp.issuer, publicJwks: () => ({ keys: [...identity.idp.publicJwks().keys, testJwk] }) };
    const authn = await createAuthnComponent(platform, { identity: idp, loginFetch: viaGateway });
    gw = await startGateway(input, { extensions: [identity.extension, authn.extension] });
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

  function assertChallenge(r: { status: number; headers: Record<string, unknown>; body: string }): void {
    assert.equal(r.status, 401, r.body);
    assert.equal(JSON.parse(r.body).error.code, 'ERR_AUTHN_STEP_UP_REQUIRED');
    const header = String(r.headers['www-authenticate']);
    assert.match(header, /^Bearer error="insufficient_user_authentication", error_description="[^"]+"/);
    assert.match(header, new RegExp(`max_age=${MAX_AGE}\\b`));
    assert.match(header, /acr_values="urn:gatehouse:mfa"/);
  }

  it('refuses an own-IdP token whose login had no second factor (amr pwd) with 401 and the RFC 9470 challenge', async () => {
    const now = Math.floor(Date.now() / 1000);
    const before = upstream.received.length;
    const r = await call('/admin/users', { headers: { authorization: `Bearer ${await ownToken({ amr: ['pwd'], auth_time: now - 10 })}` } });
    assertChallenge(r);
    assert.equal(upstream.received.length, before, 'nothing reached the upstream');
    await settle();
    const e = stepUpEvents().at(-1)!;
    assert.equal(e.payload.reason, 'no_mfa');
    assert.equal(e.payload.subject, userId);
    assert.equal(e.payload.response, 'challenge');
  });

  it('forwards an own-IdP token with a recent second factor (amr pwd+otp, fresh auth_time)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const r = await call('/admin/users', { headers: { authorization: `Bearer ${await ownToken({ amr: ['pwd', 'otp'], auth_time: now - 30 })}` } });
    assert.equal(r.status, 200, r.body);
  });

  it('refuses a token whose second factor is older than maxAgeSeconds', async () => {
    const now = Math.floor(Date.now() / 1000);
    assertChallenge(await call('/admin/users', { headers: { authorization: `Bearer ${await ownToken({ amr: ['pwd', 'otp'], auth_time: now - MAX_AGE - 60 })}` } }));
    await settle();
    assert.equal(stepUpEvents().at(-1)!.payload.reason, 'mfa_too_old');
  });

  it('refuses forged freshness: an auth_time a day in the future does not count as a recent second factor', async () => {
    const now = Math.floor(Date.now() / 1000);
    assertChallenge(await call('/admin/users', { headers: { authorization: `Bearer ${await ownToken({ amr: ['pwd', 'otp'], auth_time: now + 86_400 })}` } }));
    await settle();
    assert.equal(stepUpEvents().at(-1)!.payload.reason, 'mfa_time_in_future');
  });

  it('refuses an API token on a step-up route (it cannot show a second factor): fail closed with 401', async () => {
    const created = await identity.idp.apiTokens.create({ ownerSubject: userId, name: 'ci' });
    const r = await call('/admin/users', { headers: { authorization: `Bearer ${created.token}` } });
    assertChallenge(r);
    await settle();
    assert.equal(stepUpEvents().at(-1)!.payload.reason, 'not_capable');
    await settle();
    assert.equal(stepUpEvents().at(-1)!.payload.credential, 'api_token');
  });

  it('does not demand step-up for a method the rule does not list (PUT with a password-only token is forwarded)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const r = await call('/admin/users', { method: 'PUT', headers: { authorization: `Bearer ${await ownToken({ amr: ['pwd'], auth_time: now - 10 })}` } });
    assert.equal(r.status, 200, r.body);
  });

  it('a PUT with X-HTTP-Method-Override: DELETE (or ?_method=DELETE) is held to the DELETE rule: 401 step-up, not forwarded (attack: method override past step-up)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const auth = `Bearer ${await ownToken({ amr: ['pwd'], auth_time: now - 10 })}`;
    const viaHeader = await call('/admin/users', { method: 'PUT', headers: { authorization: auth, 'x-http-method-override': 'DELETE' } });
    assert.equal(viaHeader.status, 401, viaHeader.body);
    assert.equal(JSON.parse(viaHeader.body).error.code, 'ERR_AUTHN_STEP_UP_REQUIRED');
    const viaQuery = await call('/admin/users?_method=delete', { method: 'PUT', headers: { authorization: auth } });
    assert.equal(viaQuery.status, 401, viaQuery.body);
  });

  let resolveSecret: (secret: string) => void = () => {};
  const totpSecret = new Promise<string>((resolve) => { resolveSecret = resolve; });

  /**
   * Logs in through the IdP's form with the password only; returns the browser on a session without MFA.
   * Alice (role mfa) enrols TOTP at this first ordinary sign-in: an enrolment is not a second factor.
   */
  async function passwordOnlySession(username = 'alice'): Promise<Browser> {
    const browser = new Browser(browserFetch);
    const start = await browser.request(`${PUBLIC}/_gatehouse/auth/login?return_to=%2Fhome`, { headers: NAVIGATE });
    let next = await browser.request(start.location!, { headers: NAVIGATE });
    let hops = 0;
    while (next.location && hops++ < 5) next = await browser.request(next.location, { headers: NAVIGATE });
    assert.equal(next.status, 200, 'login page');
    next = await browser.request(new URL(formAction(next.body, 'login')!, PUBLIC), { form: { csrf: inputValue(next.body, 'csrf')!, username, password: PASSWORD }, headers: { 'sec-fetch-site': 'same-origin', origin: PUBLIC } });
    const secret = /data-totp-secret="([A-Z2-7]+)"/.exec(next.body)?.[1];
    if (secret) {
      resolveSecret(secret);
      const codes = await browser.request(new URL(formAction(next.body, 'enroll')!, PUBLIC), { form: { csrf: inputValue(next.body, 'csrf')!, code: await generate({ secret }) } });
      assert.equal(codes.status, 200, codes.body.slice(0, 300));
      next = await browser.request(new URL(formAction(codes.body, 'continue')!, PUBLIC), { form: { csrf: inputValue(codes.body, 'csrf')! } });
    }
    next = await followToCallback(browser, next);
    assert.equal((await browser.request(next.location!, { headers: NAVIGATE })).status, 303);
    assert.ok(browser.cookies.has(SESSION_COOKIE));
    return browser;
  }

  async function followToCallback(browser: Browser, from: Awaited<ReturnType<Browser['request']>>): Promise<Awaited<ReturnType<Browser['request']>>> {
    let next = from;
    let hops = 0;
    while (next.location && !next.location.startsWith(`${PUBLIC}/_gatehouse/auth/callback?`) && hops++ < 8) next = await browser.request(next.location, { headers: NAVIGATE });
    assert.ok(next.location?.startsWith(`${PUBLIC}/_gatehouse/auth/callback?`), `reached the callback: ${next.status} ${next.location} ${next.body.slice(0, 300)}`);
    return next;
  }

  it('sends a browser on a password-only session (its sign-in enrolled TOTP, which is no second factor) into a fresh login that demands the TOTP code, then serves the original path', async () => {
    const browser = await passwordOnlySession();
    const path = '/admin/settings?tab=keys';
    const first = await browser.request(PUBLIC + path, { headers: NAVIGATE });
    assert.equal(first.status, 302, first.body.slice(0, 200));
    assert.equal(first.location, `${PUBLIC}/_gatehouse/auth/login?return_to=${encodeURIComponent(path)}&step_up=mfa&max_age=${MAX_AGE}`);
    await settle();
    assert.equal(stepUpEvents().at(-1)!.payload.response, 'login_redirect');

    // An unsafe method from the same browser is not redirected (its body would be lost).
    const post = await browser.request(`${PUBLIC}/admin/settings`, { method: 'POST', form: { a: '1' }, headers: { 'sec-fetch-site': 'same-origin', origin: PUBLIC } });
    assert.equal(post.status, 401);
    assert.equal(JSON.parse(post.body).error.code, 'ERR_AUTHN_STEP_UP_REQUIRED');

    const start = await browser.request(first.location!, { headers: NAVIGATE });
    const authorize = new URL(start.location!);
    assert.equal(authorize.searchParams.get('prompt'), 'login');
    assert.equal(authorize.searchParams.get('acr_values'), 'urn:gatehouse:mfa');
    // The IdP session from the password login must not count: the sign-in page again.
    let next = await browser.request(start.location!, { headers: NAVIGATE });
    let hops = 0;
    while (next.location && hops++ < 5) next = await browser.request(next.location, { headers: NAVIGATE });
    assert.equal(next.status, 200, `login page again: ${next.location} ${next.body.slice(0, 300)}`);
    // The enrolment's time step is spent; the next code is what she would type.
    await new IdentityUsersRepo(store.db).update(userId, { totpLastStep: undefined });
    next = await browser.request(new URL(formAction(next.body, 'login')!, PUBLIC), { form: { csrf: inputValue(next.body, 'csrf')!, username: 'alice', password: PASSWORD }, headers: { 'sec-fetch-site': 'same-origin', origin: PUBLIC } });
    assert.equal(next.status, 200, next.body.slice(0, 300));
    assert.ok(formAction(next.body, 'mfa'), 'the TOTP page');
    next = await browser.request(new URL(formAction(next.body, 'mfa')!, PUBLIC), { form: { csrf: inputValue(next.body, 'csrf')!, code: await generate({ secret: await totpSecret }) } });
    next = await followToCallback(browser, next);
    const callback = await browser.request(next.location!, { headers: NAVIGATE });
    assert.equal(callback.status, 303, callback.body.slice(0, 300));
    assert.equal(callback.location, PUBLIC + path);
    const before = upstream.received.length;
    const page = await browser.request(PUBLIC + path, { headers: NAVIGATE });
    await settle();
    assert.equal(page.status, 200, JSON.stringify(stepUpEvents().at(-1)));
    assert.equal(upstream.received[before]!.url, path);
  });

  it('asks an enrolled user for the TOTP code at the step-up login (no password-only way through), then serves the path', async () => {
    // Runs after the enrolment above; the code of the same 30 s step would be refused as replayed.
    await new IdentityUsersRepo(store.db).update(userId, { totpLastStep: undefined });
    const secret = await totpSecret;
    const browser = new Browser(browserFetch);
    const first = await browser.request(`${PUBLIC}/admin/audit`, { headers: NAVIGATE });
    assert.equal(first.status, 302, 'no session: the ordinary login');
    const start = await browser.request(`${PUBLIC}/_gatehouse/auth/login?return_to=%2Fadmin%2Faudit&step_up=mfa`, { headers: NAVIGATE });
    let next = await browser.request(start.location!, { headers: NAVIGATE });
    let hops = 0;
    while (next.location && hops++ < 5) next = await browser.request(next.location, { headers: NAVIGATE });
    next = await browser.request(new URL(formAction(next.body, 'login')!, PUBLIC), { form: { csrf: inputValue(next.body, 'csrf')!, username: 'alice', password: PASSWORD }, headers: { 'sec-fetch-site': 'same-origin', origin: PUBLIC } });
    assert.equal(next.status, 200);
    assert.ok(formAction(next.body, 'mfa'), 'the TOTP page, not a redirect to the callback');
    next = await browser.request(new URL(formAction(next.body, 'mfa')!, PUBLIC), { form: { csrf: inputValue(next.body, 'csrf')!, code: await generate({ secret }) } });
    next = await followToCallback(browser, next);
    const callback = await browser.request(next.location!, { headers: NAVIGATE });
    assert.equal(callback.location, `${PUBLIC}/admin/audit`);
    assert.equal((await browser.request(`${PUBLIC}/admin/audit`, { headers: NAVIGATE })).status, 200);
  });

  it('a step-up login that ends without a fresh enough second factor is refused at its callback with 401 ERR_AUTHN_STEP_UP_REQUIRED after one round trip, not sent back into the step-up again (attack/fault: endless login loop)', async () => {
    // Runs after the enrolment above. Alice signs in with TOTP; two seconds later her second factor is too old for /flash.
    const users = new IdentityUsersRepo(store.db);
    await users.update(userId, { totpLastStep: undefined });
    const secret = await totpSecret;
    const browser = new Browser(browserFetch);
    const signIn = async (startUrl: string) => {
      const start = await browser.request(startUrl, { headers: NAVIGATE });
      let next = await browser.request(start.location!, { headers: NAVIGATE });
      let hops = 0;
      while (next.location && hops++ < 5) next = await browser.request(next.location, { headers: NAVIGATE });
      next = await browser.request(new URL(formAction(next.body, 'login')!, PUBLIC), { form: { csrf: inputValue(next.body, 'csrf')!, username: 'alice', password: PASSWORD }, headers: { 'sec-fetch-site': 'same-origin', origin: PUBLIC } });
      assert.ok(formAction(next.body, 'mfa'), 'the TOTP page');
      next = await browser.request(new URL(formAction(next.body, 'mfa')!, PUBLIC), { form: { csrf: inputValue(next.body, 'csrf')!, code: await generate({ secret }) } });
      return followToCallback(browser, next);
    };
    const callback = await signIn(`${PUBLIC}/_gatehouse/auth/login?return_to=%2Fhome`);
    assert.equal((await browser.request(callback.location!, { headers: NAVIGATE })).status, 303);
    const session = browser.cookies.get(SESSION_COOKIE)?.value;
    assert.ok(session);
    await new Promise((resolve) => setTimeout(resolve, 2100));

    const first = await browser.request(`${PUBLIC}/flash/inbox`, { headers: NAVIGATE });
    assert.equal(first.status, 302);
    assert.equal(first.location, `${PUBLIC}/_gatehouse/auth/login?return_to=%2Fflash%2Finbox&step_up=mfa&max_age=1`);
    await users.update(userId, { totpLastStep: undefined });
    const stepUpCallback = await signIn(first.location!);
    // The round trip takes longer than the route's one second.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const before = upstream.received.length;
    const end = await browser.request(stepUpCallback.location!, { headers: NAVIGATE });
    assert.equal(end.status, 401, end.body.slice(0, 300));
    assert.equal(end.location, undefined, 'not redirected back into the step-up');
    assert.match(end.body, /ERR_AUTHN_STEP_UP_REQUIRED/);
    assert.match(end.body, /did not provide a fresh second factor/);
    assert.equal(browser.cookies.get(SESSION_COOKIE)?.value, session, 'no session from the refused login; the one before is kept');
    assert.equal(upstream.received.length, before, 'nothing reached the upstream');
  });

  it('a step-up login whose login id lost its step-up mark finds no pending login (the mark cannot be stripped to skip the check)', async () => {
    const browser = new Browser(browserFetch);
    const start = await browser.request(`${PUBLIC}/_gatehouse/auth/login?return_to=%2Fflash&step_up=mfa&max_age=1`, { headers: NAVIGATE });
    const cookie = [...start.headers.getSetCookie()].find((c) => c.startsWith('__Host-gatehouse-login='))!;
    const value = cookie.split(';')[0]!.split('=')[1]!;
    assert.match(value, /\.su1$/);
    const stripped = await call('/_gatehouse/auth/callback?code=x&state=y', { headers: { ...NAVIGATE, cookie: `__Host-gatehouse-login=${value.slice(0, -4)}` } });
    assert.equal(stripped.status, 400, stripped.body.slice(0, 200));
    assert.match(stripped.body, /ERR_AUTHN_LOGIN_STATE_INVALID/);
  });

  it('an RP sending acr_values=urn:gatehouse:mfa alone (no prompt, no max_age) on a password-only IdP session is asked for the second factor, not handed a login without it (attack: acr downgrade by an existing session)', async () => {
    await identity.idp.accounts.addUser({ username: 'bob', password: PASSWORD, roles: [] });
    const browser = await passwordOnlySession('bob');
    const start = await browser.request(`${PUBLIC}/_gatehouse/auth/login?return_to=%2Fadmin%2Fkeys&step_up=mfa`, { headers: NAVIGATE });
    const authorize = new URL(start.location!);
    // What any other relying party sends when it merely asks for the acr (RFC 9470 challenge → authorization request).
    authorize.searchParams.delete('prompt');
    authorize.searchParams.delete('max_age');
    assert.equal(authorize.searchParams.get('acr_values'), 'urn:gatehouse:mfa');
    let next = await browser.request(authorize, { headers: NAVIGATE });
    let hops = 0;
    while (next.location && !next.location.startsWith(`${PUBLIC}/_gatehouse/auth/callback?`) && hops++ < 5) next = await browser.request(next.location, { headers: NAVIGATE });
    assert.equal(next.location, undefined, `the IdP must not return a code for a password-only session: ${next.location}`);
    assert.equal(next.status, 200);
    assert.ok(formAction(next.body, 'login'), 'the sign-in page');
    next = await browser.request(new URL(formAction(next.body, 'login')!, PUBLIC), { form: { csrf: inputValue(next.body, 'csrf')!, username: 'bob', password: PASSWORD }, headers: { 'sec-fetch-site': 'same-origin', origin: PUBLIC } });
    // Bob has no TOTP and may not make one up here (step-up-enrolment.test.ts): refused, no code.
    assert.equal(next.status, 403, next.body.slice(0, 300));
    assert.match(next.body, /ERR_IDENTITY_MFA_NOT_ENROLLED/);
    assert.equal(next.location, undefined);
  });

  /**
   * A relying party of the IdP (openid-client) signs a new user in through the real sign-in
   * pages and gets a JWT access token for the gateway (`resource`). With `withTotp` the user
   * (role mfa) enrols TOTP at a first sign-in, then signs in again with `acr_values` and the
   * code; without, with the password only.
   */
  async function accessTokenFromRealLogin(username: string, withTotp: boolean): Promise<string> {
    const redirect = 'https://cli.example/cb';
    const id = (await identity.idp.accounts.addUser({ username, password: PASSWORD, roles: withTotp ? ['admin', 'mfa'] : ['admin'] })).id;
    const client = await identity.idp.accounts.addClient({ clientId: `cli-${username}`, kind: 'app', redirectUris: [redirect] });
    let secret: string | undefined;
    if (withTotp) {
      secret = await signInAtRp(username, redirect, client.secret!, false);
      await new IdentityUsersRepo(store.db).update(id, { totpLastStep: undefined });
    }
    return signInAtRp(username, redirect, client.secret!, withTotp, secret);
  }

  /** One sign-in at the relying party `cli-<username>`: the access token, or (enrolling) the TOTP secret. */
  async function signInAtRp(username: string, redirect: string, clientSecret: string, withTotp: boolean, secret?: string): Promise<string> {
    const conf = await oidc.discovery(new URL(PUBLIC), `cli-${username}`, clientSecret, undefined, { [oidc.customFetch]: viaGateway as oidc.CustomFetch });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(conf, {
      redirect_uri: redirect, scope: 'openid', resource: PUBLIC, state, nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      ...(withTotp ? { acr_values: 'urn:gatehouse:mfa' } : {}),
    });
    const browser = new Browser(browserFetch);
    let next = await browser.request(url, { headers: NAVIGATE });
    for (let hops = 0; next.location?.startsWith(PUBLIC) && hops < 5; hops++) next = await browser.request(next.location, { headers: NAVIGATE });
    next = await browser.request(new URL(formAction(next.body, 'login')!, PUBLIC), { form: { csrf: inputValue(next.body, 'csrf')!, username, password: PASSWORD }, headers: { 'sec-fetch-site': 'same-origin', origin: PUBLIC } });
    const enrolling = /data-totp-secret="([A-Z2-7]+)"/.exec(next.body)?.[1];
    if (enrolling) {
      const codes = await browser.request(new URL(formAction(next.body, 'enroll')!, PUBLIC), { form: { csrf: inputValue(next.body, 'csrf')!, code: await generate({ secret: enrolling }) } });
      next = await browser.request(new URL(formAction(codes.body, 'continue')!, PUBLIC), { form: { csrf: inputValue(codes.body, 'csrf')! } });
    } else if (withTotp) {
      assert.ok(formAction(next.body, 'mfa') && secret, `the TOTP page: ${next.status} ${next.body.slice(0, 200)}`);
      next = await browser.request(new URL(formAction(next.body, 'mfa')!, PUBLIC), { form: { csrf: inputValue(next.body, 'csrf')!, code: await generate({ secret: secret! }) } });
    }
    for (let hops = 0; next.location?.startsWith(PUBLIC) && hops < 8; hops++) next = await browser.request(next.location, { headers: NAVIGATE });
    assert.ok(next.location?.startsWith(redirect), `back at the relying party: ${next.status} ${next.location} ${next.body.slice(0, 200)}`);
    const tokens = await oidc.authorizationCodeGrant(conf, new URL(next.location!), { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
    return enrolling ?? tokens.access_token;
  }

  it("passes a step-up route with the IdP's own JWT access token right after a real TOTP login (the token carries amr, auth_time and acr; no forged claims)", async () => {
    const token = await accessTokenFromRealLogin('dora', true);
    const claims = decodeJwt(token);
    assert.ok(Array.isArray(claims.amr) && (claims.amr as string[]).includes('otp'), JSON.stringify(claims));
    assert.equal(typeof claims.auth_time, 'number');
    assert.ok(Math.abs(Number(claims.auth_time) - Date.now() / 1000) < 60, 'auth_time is the sign-in just made');
    assert.equal(claims.acr, 'urn:gatehouse:mfa');
    const before = upstream.received.length;
    const r = await call('/admin/users', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200, r.body);
    assert.equal(upstream.received.length, before + 1, 'forwarded');
  });

  it("refuses the IdP's own JWT access token of a password-only login on a step-up route with 401 and the RFC 9470 challenge", async () => {
    const token = await accessTokenFromRealLogin('ezra', false);
    const claims = decodeJwt(token);
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(claims.acr, undefined);
    const before = upstream.received.length;
    assertChallenge(await call('/admin/users', { headers: { authorization: `Bearer ${token}` } }));
    assert.equal(upstream.received.length, before, 'nothing reached the upstream');
    await settle();
    assert.equal(stepUpEvents().at(-1)!.payload.reason, 'no_mfa');
  });

  it('gives a client-credentials token no amr, auth_time or acr, so a service cannot pass step-up (fail closed)', async () => {
    const service = await identity.idp.accounts.addClient({ clientId: 'svc-step-up', kind: 'service', roles: ['admin'] });
    const conf = await oidc.discovery(new URL(PUBLIC), 'svc-step-up', service.secret!, undefined, { [oidc.customFetch]: viaGateway as oidc.CustomFetch });
    const { access_token: token } = await oidc.clientCredentialsGrant(conf, {});
    const claims = decodeJwt(token);
    assert.equal(claims.gh_kind, 'service');
    for (const name of ['amr', 'auth_time', 'acr']) assert.equal(claims[name], undefined, name);
    assertChallenge(await call('/admin/users', { headers: { authorization: `Bearer ${token}` } }));
  });

  it('a WebSocket upgrade on a step-up route with a password-only token (or a browser session) is refused with 401 before any upstream handshake, never redirected', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await ownToken({ amr: ['pwd'], auth_time: now - 10 });
    let upgrades = 0;
    upstream.server.on('upgrade', (_req, socket) => { upgrades++; socket.destroy(); });
    const head = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
        socket.write(`GET /admin-ws/feed HTTP/1.1\r\nhost: gw.test\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-fetch-mode: websocket\r\nauthorization: Bearer ${token}\r\n\r\n`);
      });
      let data = '';
      socket.on('data', (c: Buffer) => { data += c.toString('latin1'); if (data.includes('\r\n\r\n')) { socket.destroy(); resolve(data); } });
      socket.on('error', reject);
      socket.on('close', () => resolve(data));
    });
    assert.match(head, /^HTTP\/1\.1 401 /, head);
    assert.match(head, /www-authenticate: Bearer error="insufficient_user_authentication"/i);
    assert.equal(upgrades, 0, 'the upstream saw no handshake');
  });
});
