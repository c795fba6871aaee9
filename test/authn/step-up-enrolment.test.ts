/**
 * Step-up met by enrolment. A step-up sign-in of an account without TOTP used to offer the
 * enrolment of one, and the enrolment gave the sign-in amr otp/mfa and acr urn:gatehouse:mfa
 * at once: whoever had only the password added an authenticator of their own and passed every
 * step-up route, approvals on such routes included. Now (identity.mfa.enrollDuringStepUp off,
 * the default) such a sign-in is refused, and an enrolment at an ordinary sign-in counts from
 * the next sign-in that uses the code. Real gateway, real IdP pages, real store; a test key
 * in the IdP's JWKS signs the requester's token on the approval route.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { generate } from 'otplib';
import { Agent, buildConnector, fetch as undiciFetch, request } from 'undici';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
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
import { approvalsExtension } from '../../src/approvals/approvals-component.ts';
import { SESSION_COOKIE } from '../../src/authn/session/cookies.ts';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { Browser, formAction, inputValue } from '../identity/support/browser.ts';
import { browserFetchVia } from './support/browser-fetch.ts';

const PUBLIC = 'https://gw.test';
const PASSWORD = 'correct horse battery staple';
const NAVIGATE = { 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'none', accept: 'text/html' };
const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin', origin: PUBLIC };
type Page = Awaited<ReturnType<Browser['request']>>;

/** A gateway with a step-up route (/admin) and a step-up route with approvals (/payouts), its IdP and a store. */
async function startStack(mfa: NonNullable<ConfigInput['identity']>['mfa']) {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-step-up-enrolment-'));
  const input: ConfigInput = {
    mode: 'development', publicUrl: PUBLIC, dataDir: dir,
    identity: { mfa },
    upstreams: { app: { url: 'https://127.0.0.1:9' } },
    routes: [
      { id: 'admin', path: '/admin', upstream: 'app', access: 'authenticated', authentication: { methods: ['session', 'jwt'], browserLogin: true }, stepUp: { maxAgeSeconds: 300 } },
      { id: 'payouts', path: '/payouts', upstream: 'app', access: 'authenticated', authentication: { methods: ['session', 'jwt'], browserLogin: true }, stepUp: { maxAgeSeconds: 300 }, approval: { approverRoles: ['finance-lead'] } },
    ],
  };
  // Validated before anything is started: a refused configuration leaves nothing running.
  parseConfig(input, { env: process.env, source: 'test' });
  const upstream: TestUpstream = await startUpstream();
  input.upstreams = { app: { url: upstream.url } };
  const config = parseConfig({ ...input, listeners: { https: { host: '127.0.0.1', port: 0 }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } } }, { env: process.env, source: 'test' }).config;
  const store: Store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
  await store.migrate();
  const bus = new MemoryEventBus({ instanceId: 'gw-test' });
  const events: Envelope[] = [];
  bus.subscribe('*', (e) => { events.push(e); });
  const platform = { config, store, bus, logger: pino({ level: process.env.GH_TEST_LOG ?? 'silent' }) } as unknown as Platform;
  const identity: IdentityComponent = await createIdentityComponent(platform);
  const pair = await generateKeyPair('ES256');
  const key: { privateKey: CryptoKey; kid: string } = { privateKey: pair.privateKey, kid: 'test-own' };
  const testJwk = { ...(await exportJWK(pair.publicKey)), kid: key.kid, alg: 'ES256', use: 'sig' };
  const idp: IdentityProvider = { ...identity.idp, issuer: identity.idp.issuer, publicJwks: () => ({ keys: [...identity.idp.publicJwks().keys, testJwk] }) };
  let port = 0;
  const connector = buildConnector({ rejectUnauthorized: false });
  const dispatcher = new Agent({ connect: (opts, cb) => connector({ ...opts, hostname: '127.0.0.1', port: String(port), servername: 'localhost' }, cb) });
  const viaGateway = ((url: string | URL, init: Record<string, unknown> = {}) => undiciFetch(url, { ...init, dispatcher })) as unknown as typeof fetch;
  const authn = await createAuthnComponent(platform, { identity: idp, loginFetch: viaGateway });
  const gw: TestGateway = await startGateway(input, { extensions: [identity.extension, authn.extension, approvalsExtension(platform, { authenticate: authn.authn.stage })] });
  port = Number(new URL(gw.url).port);

  const browserFetch = browserFetchVia(dispatcher);

  const users = new IdentityUsersRepo(store.db);
  const ids: Record<string, string> = {};

  const stack = {
    store, events, upstream, users, ids,
    async addUser(username: string, roles: string[]) {
      ids[username] = (await identity.idp.accounts.addUser({ username, password: PASSWORD, roles })).id;
    },
    newBrowser: () => new Browser(browserFetch),
    /** Starts a gateway login (a step-up one with `stepUp`) and submits the password; returns the IdP's answer. */
    async password(browser: Browser, username: string, stepUp: boolean): Promise<Page> {
      const start = await browser.request(`${PUBLIC}/_gatehouse/auth/login?return_to=%2Fadmin%2Fhome${stepUp ? '&step_up=mfa' : ''}`, { headers: NAVIGATE });
      assert.ok(start.location, `login start: ${start.status} ${start.body.slice(0, 200)}`);
      let next = await browser.request(start.location, { headers: NAVIGATE });
      for (let hops = 0; next.location && hops < 5; hops++) next = await browser.request(next.location, { headers: NAVIGATE });
      assert.ok(formAction(next.body, 'login'), `the sign-in page: ${next.status} ${next.body.slice(0, 200)}`);
      return browser.request(new URL(formAction(next.body, 'login')!, PUBLIC), { form: { csrf: inputValue(next.body, 'csrf')!, username, password: PASSWORD }, headers: SAME_ORIGIN });
    },
    /** Enrols on the enrolment page; returns the secret and the page after "Continue". */
    async enrol(browser: Browser, page: Page): Promise<{ secret: string; next: Page }> {
      const secret = /data-totp-secret="([A-Z2-7]+)"/.exec(page.body)?.[1];
      assert.ok(secret, `the enrolment page: ${page.status} ${page.body.slice(0, 300)}`);
      const codes = await browser.request(new URL(formAction(page.body, 'enroll')!, PUBLIC), { form: { csrf: inputValue(page.body, 'csrf')!, code: await generate({ secret }) } });
      assert.equal(codes.status, 200, codes.body.slice(0, 300));
      const next = await browser.request(new URL(formAction(codes.body, 'continue')!, PUBLIC), { form: { csrf: inputValue(codes.body, 'csrf')! } });
      return { secret, next };
    },
    /** Follows the IdP's redirects to the gateway's callback and through it; returns the callback's answer. */
    async finish(browser: Browser, from: Page): Promise<Page> {
      let next = from;
      for (let hops = 0; next.location && !next.location.startsWith(`${PUBLIC}/_gatehouse/auth/callback?`) && hops < 8; hops++) next = await browser.request(next.location, { headers: NAVIGATE });
      assert.ok(next.location?.startsWith(`${PUBLIC}/_gatehouse/auth/callback?`), `reached the callback: ${next.status} ${next.location} ${next.body.slice(0, 300)}`);
      return browser.request(next.location!, { headers: NAVIGATE });
    },
    async call(browser: Browser | undefined, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; location?: string }> {
      const cookie = browser ? [...browser.cookies].map(([name, c]) => `${name}=${c.value}`).join('; ') : '';
      const res = await request(PUBLIC + path, { method: method as 'GET', dispatcher, headers: { ...(cookie ? { cookie } : {}), ...(method === 'GET' ? NAVIGATE : SAME_ORIGIN), ...headers } });
      const location = res.headers.location;
      return { status: res.statusCode, body: await res.body.text(), ...(typeof location === 'string' ? { location } : {}) };
    },
    /** A token of the gateway's own issuer, as after a sign-in with the given methods ten seconds ago. */
    async token(who: string, amr: string[]): Promise<string> {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: identity.idp.issuer, aud: PUBLIC, sub: ids[who], iat: now, exp: now + 300, jti: `t-${Math.random()}`, amr, auth_time: now - 10 })
        .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' }).sign(key.privateKey);
    },
    loginEvents: (name: 'identity.login.failed' | 'identity.login.succeeded') => events.filter((e) => e.name === name).map((e) => e.payload as Record<string, unknown>),
    async close() {
      await gw.close();
      await upstream.close();
      await bus.close();
      await store.close();
      await dispatcher.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}
type Stack = Awaited<ReturnType<typeof startStack>>;

/** The memory bus delivers on a later tick. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

/** Signs in with the password alone at an ordinary login (the user has no TOTP and none is required). */
async function passwordSession(s: Stack, username: string): Promise<Browser> {
  const browser = s.newBrowser();
  const done = await s.finish(browser, await s.password(browser, username, false));
  assert.equal(done.status, 303, done.body.slice(0, 300));
  assert.ok(browser.cookies.has(SESSION_COOKIE));
  return browser;
}

function assertNotEnrolledRefusal(page: Page): void {
  assert.equal(page.status, 403, page.body.slice(0, 300));
  assert.match(page.body, /ERR_IDENTITY_MFA_NOT_ENROLLED/);
  assert.match(page.body, /set up an authenticator at an ordinary sign-in first/);
  assert.doesNotMatch(page.body, /data-totp-secret/, 'no enrolment offered');
  assert.equal(page.location, undefined, 'no way on to the callback');
}

describe('step-up is not met by enrolling a new second factor (identity.mfa.enrollDuringStepUp off, the default)', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ requiredForRoles: ['admin'] });
    await s.addUser('alice', ['ops']);
    await s.addUser('bob', ['finance-lead']);
    await s.addUser('carol', ['ops']);
    await s.addUser('dave', ['admin']);
  });
  after(async () => { await s?.close(); });

  it('an attacker with only the password of a user without TOTP cannot pass step-up by enrolling a new authenticator: the step-up sign-in is refused with 403 ERR_IDENTITY_MFA_NOT_ENROLLED, no key is stored, no session and nothing forwarded', async () => {
    const browser = await passwordSession(s, 'alice');
    const session = browser.cookies.get(SESSION_COOKIE)?.value;
    const first = await s.call(browser, 'GET', '/admin/keys');
    assert.equal(first.status, 302, first.body.slice(0, 200));
    assert.match(first.location ?? '', /step_up=mfa/);
    const before = s.upstream.received.length;

    const page = await s.password(browser, 'alice', true);
    assertNotEnrolledRefusal(page);
    const user = await s.users.findById(s.ids.alice!);
    assert.equal(user?.totpEnabled, false);
    assert.equal(user?.totpSecretSealed, undefined, 'not even a pending key');
    await settle();
    const refusal = s.loginEvents('identity.login.failed').at(-1);
    assert.deepEqual({ subject: refusal?.subject, reason: refusal?.reason }, { subject: s.ids.alice, reason: 'mfa_not_enrolled' });

    assert.equal(browser.cookies.get(SESSION_COOKIE)?.value, session, 'the password-only session is all the browser has');
    assert.equal((await s.call(browser, 'GET', '/admin/keys')).status, 302, 'still sent to the step-up');
    assert.equal((await s.call(browser, 'POST', '/admin/keys')).status, 401);
    assert.equal(s.upstream.received.length, before, 'nothing reached the upstream');
  });

  it('approval deciding on a step-up route is refused the same way: an approver without TOTP cannot enrol at the step-up login to decide (403 ERR_IDENTITY_MFA_NOT_ENROLLED), and the approval stays pending', async () => {
    const held = await s.call(undefined, 'POST', '/payouts/1', { authorization: `Bearer ${await s.token('carol', ['pwd', 'otp'])}` });
    assert.equal(held.status, 403, held.body);
    const id = (JSON.parse(held.body) as { error: { approvalId: string } }).error.approvalId;
    assert.match(id, /^apv_/);

    const bob = await passwordSession(s, 'bob');
    const weak = await s.call(bob, 'POST', `/_gatehouse/approvals/${id}/approve`);
    assert.equal(weak.status, 401, weak.body);
    assert.equal(JSON.parse(weak.body).error.code, 'ERR_AUTHN_STEP_UP_REQUIRED');

    assertNotEnrolledRefusal(await s.password(bob, 'bob', true));
    const again = await s.call(bob, 'POST', `/_gatehouse/approvals/${id}/approve`);
    assert.equal(again.status, 401, again.body);
    assert.equal(JSON.parse(again.body).error.code, 'ERR_AUTHN_STEP_UP_REQUIRED');
    const row = await s.store.db.selectFrom('approvals').select('status').where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(row.status, 'pending', 'nothing decided');
  });

  it('an enrolment at an ordinary sign-in (identity.mfa.requiredForRoles) is no second factor of that sign-in: its session is sent to the step-up, whose sign-in asks for the new authenticator\'s code and then passes', async () => {
    const browser = s.newBrowser();
    const { secret, next } = await s.enrol(browser, await s.password(browser, 'dave', false));
    assert.equal((await s.finish(browser, next)).status, 303);
    await settle();
    assert.deepEqual(s.loginEvents('identity.login.succeeded').at(-1)?.amr, ['pwd'], 'the enrolment sign-in is a password sign-in');
    const first = await s.call(browser, 'GET', '/admin/keys');
    assert.equal(first.status, 302, `the enrolment did not pass step-up: ${first.status}`);
    assert.match(first.location ?? '', /step_up=mfa/);
    assert.equal((await s.call(browser, 'POST', '/admin/keys')).status, 401);

    // The code of the enrolment's time step is spent; the next one is what a user would type.
    await s.users.update(s.ids.dave!, { totpLastStep: undefined });
    const mfa = await s.password(browser, 'dave', true);
    assert.ok(formAction(mfa.body, 'mfa'), `the TOTP page, not enrolment: ${mfa.status} ${mfa.body.slice(0, 200)}`);
    const coded = await browser.request(new URL(formAction(mfa.body, 'mfa')!, PUBLIC), { form: { csrf: inputValue(mfa.body, 'csrf')!, code: await generate({ secret }) } });
    assert.equal((await s.finish(browser, coded)).status, 303);
    assert.equal((await s.call(browser, 'GET', '/admin/keys')).status, 200);
  });

  it('also refuses a step-up sign-in of a user whose role requires MFA but who has not enrolled yet (enrolment happens at an ordinary sign-in only)', async () => {
    await s.addUser('erin', ['admin']);
    assertNotEnrolledRefusal(await s.password(s.newBrowser(), 'erin', true));
  });
});

describe('identity.mfa.enrollDuringStepUp: true (development only) keeps the permissive behaviour', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ enrollDuringStepUp: true });
    await s.addUser('alice', ['ops']);
  });
  after(async () => { await s?.close(); });

  it('is warned about and refused in production', () => {
    const doc = { identity: { mfa: { enrollDuringStepUp: true } } };
    const loaded = parseConfig(doc, { env: { NODE_ENV: 'test' } });
    assert.ok(loaded.warnings.some((w) => w.path.join('.') === 'identity.mfa.enrollDuringStepUp'), JSON.stringify(loaded.warnings));
    assert.throws(() => parseConfig({ ...doc, mode: 'production' }, { env: { NODE_ENV: 'test' } }), /identity\.mfa\.enrollDuringStepUp: not allowed in production/);
  });

  it('lets a user without TOTP enrol at the step-up sign-in, and that sign-in passes the step-up route', async () => {
    const browser = await passwordSession(s, 'alice');
    assert.equal((await s.call(browser, 'GET', '/admin/keys')).status, 302);
    const { next } = await s.enrol(browser, await s.password(browser, 'alice', true));
    assert.equal((await s.finish(browser, next)).status, 303);
    await settle();
    assert.deepEqual(s.loginEvents('identity.login.succeeded').at(-1)?.amr, ['pwd', 'otp', 'mfa']);
    assert.equal((await s.call(browser, 'GET', '/admin/keys')).status, 200);
  });
});
