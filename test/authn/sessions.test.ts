/**
 * Browser sessions through the real stage and the real logout route: planted ids, idle and
 * absolute timeouts, logout and admin revocation effective on the next request, the login
 * redirect and its return URL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { createAuthenticateStage } from '../../src/gateway/pipeline/authenticate.ts';
import { createLocalInvalidationChannel } from '../../src/authn/local-invalidation.ts';
import { SessionManager } from '../../src/authn/session/session-manager.ts';
import { LoginFlow } from '../../src/authn/session/login-flow.ts';
import { MemoryLoginStateStore, MemorySessionStore } from '../../src/authn/session/memory-session-store.ts';
import { SESSION_COOKIE } from '../../src/authn/session/cookies.ts';
import { safeReturnPath } from '../../src/authn/session/return-url.ts';
import { TestDirectory } from './support/directory.ts';
import { call, compiledRoute, startHarness, type Harness } from './support/harness.ts';

const ORIGIN = 'https://gw.test';
const IDLE = 30 * 60_000;
const ABSOLUTE = 8 * 3600_000;

describe('browser sessions', () => {
  let clock = Date.now();
  let harness: Harness;
  let sessions: SessionManager;
  let store: MemorySessionStore;
  let directory: TestDirectory;

  before(async () => {
    const channel = createLocalInvalidationChannel();
    directory = new TestDirectory(channel.publish);
    directory.add({ subject: 'alice', roles: ['reader'] });
    directory.add({ subject: 'bob' });
    store = new MemorySessionStore();
    sessions = new SessionManager({
      store, principals: directory, onInvalidate: channel.onInvalidate, publish: channel.publish,
      idleTimeoutMs: IDLE, absoluteTimeoutMs: ABSOLUTE, touchIntervalMs: 60_000, maxCachedSessions: 100, now: () => clock,
    });
    // The logout route needs no IdP round trip; a configuration from static metadata is enough.
    const client = new oidc.Configuration({ issuer: ORIGIN, authorization_endpoint: `${ORIGIN}/oidc/auth`, token_endpoint: `${ORIGIN}/oidc/token` }, 'gatehouse-gateway');
    const flow = new LoginFlow({ client, publicOrigin: ORIGIN, sessions, logins: new MemoryLoginStateStore(), principals: directory, scopes: ['openid'], loginTimeoutMs: 60_000 });
    const stage = createAuthenticateStage({ sessions, publicOrigin: ORIGIN, maxTokenBytes: 8192 });
    harness = await startHarness({
      stage,
      routes: [
        compiledRoute({ id: 'api', access: 'authenticated' }),
        compiledRoute({ id: 'app', access: 'authenticated', authentication: { methods: ['session'], browserLogin: true } }),
        compiledRoute({ id: 'jwt-only', access: 'authenticated', authentication: { methods: ['jwt'] } }),
      ],
      authRoutes: (req, res) => {
        const pending = flow.handle(req, res);
        if (pending === false) return false;
        pending.catch((e: { status?: number; code?: string }) => { res.writeHead(e.status ?? 500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: e.code } })); });
        return true;
      },
    });
  });
  after(async () => { await harness.close(); sessions.close(); });

  async function login(subject: string): Promise<string> {
    const principal = (await directory.getPrincipal(subject))!;
    const { cookieValue } = await sessions.create(principal, { issuer: ORIGIN, amr: ['pwd'], authTime: Math.floor(clock / 1000) });
    return cookieValue;
  }
  const cookie = (value: string) => ({ cookie: `${SESSION_COOKIE}=${value}` });

  it('accepts a session cookie, the second time synchronously from the cache', async () => {
    const value = await login('alice');
    const first = await call(harness.url, { headers: cookie(value) });
    assert.equal(first.status, 200);
    assert.equal(first.body.subject, 'alice');
    assert.equal(first.body.method, 'session');
    assert.equal((await call(harness.url, { headers: cookie(value) })).headers.get('x-stage-sync'), '1');
  });

  it('refuses a session id chosen by an attacker (fixation) with ERR_AUTHN_SESSION_INVALID', async () => {
    const planted = 'A'.repeat(43);
    assert.equal((await call(harness.url, { headers: cookie(planted) })).body.error.code, 'ERR_AUTHN_SESSION_INVALID');
    assert.equal((await call(harness.url, { headers: cookie('short') })).body.error.code, 'ERR_AUTHN_SESSION_INVALID');
  });

  it('stores only a hash of the cookie value', async () => {
    const value = await login('alice');
    assert.equal(await store.get(value), undefined);
    assert.ok(await store.get(SessionManager.sessionId(value)!));
  });

  it('ends a session after the idle timeout (ERR_AUTHN_SESSION_EXPIRED)', async () => {
    const value = await login('alice');
    assert.equal((await call(harness.url, { headers: cookie(value) })).status, 200);
    clock += IDLE - 1000;
    assert.equal((await call(harness.url, { headers: cookie(value) })).status, 200, 'activity keeps it alive');
    clock += IDLE + 1000;
    assert.equal((await call(harness.url, { headers: cookie(value) })).body.error.code, 'ERR_AUTHN_SESSION_EXPIRED');
    assert.equal((await call(harness.url, { headers: cookie(value) })).body.error.code, 'ERR_AUTHN_SESSION_INVALID', 'and it is gone from the store');
  });

  it('ends an active session at the absolute timeout', async () => {
    const value = await login('alice');
    for (let t = 0; t < ABSOLUTE; t += IDLE / 2) {
      assert.equal((await call(harness.url, { headers: cookie(value) })).status, 200);
      clock += IDLE / 2;
    }
    clock += 1000;
    const r = await call(harness.url, { headers: cookie(value) });
    assert.equal(r.status, 401);
    assert.match(r.body.error.code, /^ERR_AUTHN_SESSION_(EXPIRED|INVALID)$/);
  });

  it('logout revokes the session server-side, effective on the next request', async () => {
    const value = await login('alice');
    assert.equal((await call(harness.url, { headers: cookie(value) })).headers.get('x-stage-sync'), '0');
    assert.equal((await call(harness.url, { headers: cookie(value) })).headers.get('x-stage-sync'), '1');
    const out = await call(`${harness.url}/_gatehouse/auth/logout`, { method: 'POST', headers: { ...cookie(value), 'sec-fetch-site': 'same-origin' } });
    assert.equal(out.status, 303);
    assert.match(out.headers.get('set-cookie') ?? '', new RegExp(`^${SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0`));
    assert.equal((await call(harness.url, { headers: cookie(value) })).body.error.code, 'ERR_AUTHN_SESSION_INVALID');
  });

  it('refuses a cross-site logout (logout CSRF) with ERR_AUTHN_CSRF', async () => {
    const value = await login('alice');
    const out = await call(`${harness.url}/_gatehouse/auth/logout`, { method: 'POST', headers: { ...cookie(value), 'sec-fetch-site': 'cross-site' } });
    assert.equal(out.body.error.code, 'ERR_AUTHN_CSRF');
    assert.equal((await call(harness.url, { headers: cookie(value) })).status, 200);
  });

  it('refuses a logout that does not say where it comes from (a cross-site link or image in a browser without Sec-Fetch-Site, which sends no Origin on a GET) with ERR_AUTHN_CSRF; the session survives', async () => {
    const value = await login('alice');
    for (const method of ['GET', 'POST']) {
      const out = await call(`${harness.url}/_gatehouse/auth/logout`, { method, headers: { ...cookie(value), accept: 'text/html' } });
      assert.equal(out.status, 403, method);
      assert.equal(out.body.error.code, 'ERR_AUTHN_CSRF', method);
      assert.equal(out.headers.get('set-cookie'), null, method);
      assert.equal((await call(harness.url, { headers: cookie(value) })).status, 200, `${method}: the session was ended`);
    }
    // The browser's word that it is the gateway's own page, by either header, still logs out.
    const provenances: Array<Record<string, string>> = [{ 'sec-fetch-site': 'same-origin' }, { 'sec-fetch-site': 'none' }, { origin: ORIGIN }];
    for (const h of provenances) {
      const other = await login('alice');
      const out = await call(`${harness.url}/_gatehouse/auth/logout`, { method: 'POST', headers: { ...cookie(other), ...h } });
      assert.equal(out.status, 303, JSON.stringify(h));
      assert.equal((await call(harness.url, { headers: cookie(other) })).body.error.code, 'ERR_AUTHN_SESSION_INVALID', JSON.stringify(h));
    }
  });

  it('refuses a logout fetched ahead of a click (prefetch or prerender of a same-origin "Sign out" link, by speculation rules or <link rel=prefetch>) with ERR_AUTHN_CSRF; the session survives', async () => {
    const value = await login('alice');
    const ahead: Array<Record<string, string>> = [
      { 'sec-purpose': 'prefetch' },
      { 'sec-purpose': 'prefetch;prerender' },
      { 'sec-purpose': 'prefetch;anonymous-client-ip' },
      { purpose: 'prefetch' },
      { 'x-moz': 'prefetch' },
      { 'x-purpose': 'preview' },
    ];
    for (const h of ahead) {
      const out = await call(`${harness.url}/_gatehouse/auth/logout`, { headers: { ...cookie(value), 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'navigate', ...h } });
      assert.equal(out.status, 403, JSON.stringify(h));
      assert.equal(out.body.error.code, 'ERR_AUTHN_CSRF', JSON.stringify(h));
      assert.equal(out.headers.get('set-cookie'), null, JSON.stringify(h));
      assert.equal((await call(harness.url, { headers: cookie(value) })).status, 200, `${JSON.stringify(h)}: the session was ended`);
    }
  });

  it('refuses a cross-origin write carried by the session cookie (CSRF from a sibling subdomain or a browser ignoring SameSite) with ERR_AUTHN_CROSS_SITE_REQUEST; same-origin writes and cross-site reads pass', async () => {
    const value = await login('alice');
    const host = new URL(harness.url).host;
    const refused: Array<Record<string, string>> = [
      { 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'cross-site' },
      { origin: 'https://evil.example' },
      { origin: `https://sub.${host}` },
      { origin: 'null' },
    ];
    for (const h of refused) {
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
        const out = await call(harness.url, { method, headers: { ...cookie(value), ...h } });
        assert.equal(out.status, 403, `${method} ${JSON.stringify(h)}`);
        assert.equal(out.body.error.code, 'ERR_AUTHN_CROSS_SITE_REQUEST', `${method} ${JSON.stringify(h)}`);
      }
    }
    const allowed: Array<Record<string, string>> = [{ 'sec-fetch-site': 'same-origin' }, { 'sec-fetch-site': 'none' }, { origin: `http://${host}` }, {}];
    for (const h of allowed) {
      const out = await call(harness.url, { method: 'POST', headers: { ...cookie(value), ...h } });
      assert.equal(out.status, 200, `${JSON.stringify(h)}: ${JSON.stringify(out.body)}`);
    }
    // Reads are not writes: a cross-site GET (a link, an image) still authenticates.
    assert.equal((await call(harness.url, { headers: { ...cookie(value), 'sec-fetch-site': 'cross-site' } })).status, 200);
  });

  it('admin revocation of all sessions of a user is effective on the next request', async () => {
    const value = await login('bob');
    assert.equal((await call(harness.url, { headers: cookie(value) })).status, 200);
    assert.equal(await sessions.revokeSubject('bob'), 1);
    assert.equal((await call(harness.url, { headers: cookie(value) })).body.error.code, 'ERR_AUTHN_SESSION_INVALID');
  });

  it('refuses the session of a user disabled after login on the next request', async () => {
    const value = await login('alice');
    assert.equal((await call(harness.url, { headers: cookie(value) })).status, 200);
    await directory.setDisabled('alice', true);
    try {
      assert.equal((await call(harness.url, { headers: cookie(value) })).body.error.code, 'ERR_AUTHN_PRINCIPAL_DISABLED');
    } finally { await directory.setDisabled('alice', false); }
  });

  it('refuses two session cookies (cookie tossing) with ERR_AUTHN_CREDENTIAL_AMBIGUOUS', async () => {
    const a = await login('alice');
    const b = await login('bob');
    const r = await call(harness.url, { headers: { cookie: `${SESSION_COOKIE}=${a}; ${SESSION_COOKIE}=${b}` } });
    assert.equal(r.body.error.code, 'ERR_AUTHN_CREDENTIAL_AMBIGUOUS');
  });

  it('refuses a session cookie on a route that accepts only JWTs with ERR_AUTHN_METHOD_NOT_ALLOWED', async () => {
    const value = await login('alice');
    assert.equal((await call(harness.url, { route: 'jwt-only', headers: cookie(value) })).body.error.code, 'ERR_AUTHN_METHOD_NOT_ALLOWED');
  });

  it('redirects a browser without session on a browserLogin route to the login, keeping the path', async () => {
    const r = await call(`${harness.url}/inbox?folder=1`, { route: 'app', headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' } });
    assert.equal(r.status, 302);
    assert.equal(r.headers.get('location'), `/_gatehouse/auth/login?return_to=${encodeURIComponent('/inbox?folder=1')}`);
    const api = await call(`${harness.url}/inbox`, { route: 'app', headers: { accept: 'application/json' } });
    assert.equal(api.status, 401, 'API clients get 401, not a redirect');
  });

  it('refuses open redirects in the return URL with ERR_AUTHN_RETURN_URL_INVALID', async () => {
    for (const evil of ['https://evil.example/', '//evil.example/x', '/\\evil.example', '/\t/evil.example', 'javascript:alert(1)', '', 'evil']) {
      assert.throws(() => safeReturnPath(evil, ORIGIN), { code: 'ERR_AUTHN_RETURN_URL_INVALID' }, JSON.stringify(evil));
      const r = await call(`${harness.url}/_gatehouse/auth/logout?return_to=${encodeURIComponent(evil)}`, { headers: { 'sec-fetch-site': 'same-origin' } });
      assert.equal(r.body.error.code, 'ERR_AUTHN_RETURN_URL_INVALID', JSON.stringify(evil));
    }
    assert.equal(safeReturnPath('/mail/inbox?x=1', ORIGIN), '/mail/inbox?x=1');
  });

  it('refuses a return URL whose dot segments resolve to //host (open redirect at login and logout) with ERR_AUTHN_RETURN_URL_INVALID', async () => {
    for (const evil of ['/.//evil.example', '/..//evil.example/x', '/a/..//evil.example', '/%2e//evil.example', '/%2E%2e//evil.example?x=1']) {
      assert.throws(() => safeReturnPath(evil, ORIGIN), { code: 'ERR_AUTHN_RETURN_URL_INVALID' }, JSON.stringify(evil));
      // Logout redirects at once, without any login: a link to it was a redirect to any site.
      const out = await call(`${harness.url}/_gatehouse/auth/logout?return_to=${encodeURIComponent(evil)}`, { headers: { 'sec-fetch-site': 'none' } });
      assert.equal(out.headers.get('location'), null, `logout redirected ${JSON.stringify(evil)} to ${out.headers.get('location')}`);
      assert.equal(out.body.error.code, 'ERR_AUTHN_RETURN_URL_INVALID', JSON.stringify(evil));
      // Login keeps the return path for after the callback; it must not accept it either.
      const login = await call(`${harness.url}/_gatehouse/auth/login?return_to=${encodeURIComponent(evil)}`);
      assert.equal(login.body.error?.code, 'ERR_AUTHN_RETURN_URL_INVALID', JSON.stringify(evil));
    }
    assert.equal(safeReturnPath('/a/../mail/./inbox', ORIGIN), '/mail/inbox');
  });
});
