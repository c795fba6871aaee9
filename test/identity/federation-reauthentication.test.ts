/**
 * A relying party that asks Gatehouse for a fresh sign-in (`prompt=login`, `max_age`) gets one
 * also when the user signs in through an external provider: the demand is passed on to that
 * provider, and the ID token it returns must show (`auth_time`) that the user authenticated
 * again. Otherwise the browser's earlier session at the external provider signed the user in
 * without a password, and Gatehouse's ID token still said the user had just authenticated.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { SignJWT } from 'jose';
import { startHarness, type Harness } from './support/harness.ts';
import { PASSWORD, REDIRECT, rpConfig } from './support/flows.ts';
import { Browser, formAction, inputValue } from './support/browser.ts';
import { startFakeOp, type FakeOp } from './support/fake-op.ts';

const FAKE_CLIENT_ID = 'gatehouse-at-fake';

describe('federation: prompt=login and max_age reach the external provider', () => {
  let ext: Harness;
  let op: FakeOp;
  let h: Harness;
  let config: oidc.Configuration;

  before(async () => {
    ext = await startHarness('sqlite');
    await ext.idp.accounts.addUser({ username: 'erin', email: 'erin@example.com', emailVerified: true, password: PASSWORD });
    op = await startFakeOp();
    h = await startHarness('sqlite', {
      federation: {
        corp: { issuer: ext.origin, clientId: 'gatehouse-a', clientSecretEnv: 'GH_TEST_REAUTH_SECRET', provisioning: 'jit', allowedEmailDomains: ['example.com'], scopes: ['openid', 'email'] },
        fake: { issuer: op.issuer, clientId: FAKE_CLIENT_ID, clientSecret: 'fake-secret', provisioning: 'jit', allowedEmailDomains: ['example.com'], scopes: ['openid', 'email'] },
      },
    });
    const rp = await ext.idp.accounts.addClient({ clientId: 'gatehouse-a', kind: 'app', redirectUris: [`${h.origin}/oidc/federation/callback/corp`] });
    process.env.GH_TEST_REAUTH_SECRET = rp.secret!;
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(async () => { await h?.close(); await op?.close(); await ext?.close(); });

  /** Starts an authorization request at Gatehouse with `extra` parameters and picks provider `name` on its sign-in page. */
  async function federate(browser: Browser, name: string, extra: Record<string, string>) {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT, scope: 'openid email', state: oidc.randomState(),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
    });
    const first = await browser.request(url);
    const page = await browser.request(first.location!);
    const go = await browser.request(new URL(formAction(page.body, `federated/${name}`)!, h.origin), { form: { csrf: inputValue(page.body, 'csrf')! } });
    assert.equal(go.status, 303);
    return new URL(go.location!);
  }

  /** Follows redirects at the external Gatehouse; returns its last answer (a page, or the redirect back to Gatehouse). */
  async function atExternal(browser: Browser, location: string) {
    let r = await browser.request(location);
    for (let hops = 0; r.location?.startsWith(ext.origin) && hops < 8; hops++) r = await browser.request(r.location);
    return r;
  }

  /** Comes back from the external provider and follows Gatehouse to the client's redirect URI. */
  async function back(browser: Browser, location: string) {
    let r = await browser.request(location);
    for (let hops = 0; r.location?.startsWith(h.origin) && hops < 6; hops++) r = await browser.request(r.location);
    return r;
  }

  it('makes the external provider ask for the password again on prompt=login, although the browser is still signed in there', async () => {
    const browser = new Browser(h.fetch);
    // A first federated sign-in leaves the browser signed in at the external provider.
    const first = await atExternal(browser, (await federate(browser, 'corp', {})).href);
    const form = await browser.request(new URL(formAction(first.body, 'login')!, ext.origin), { form: { csrf: inputValue(first.body, 'csrf')!, username: 'erin', password: PASSWORD } });
    const done = await back(browser, (await atExternal(browser, form.location!)).location!);
    assert.ok(done.location?.startsWith(REDIRECT), `${done.status} ${done.body.slice(0, 200)}`);

    // The client now demands a fresh sign-in.
    const target = await federate(browser, 'corp', { prompt: 'login' });
    assert.equal(target.searchParams.get('prompt'), 'login');
    const again = await atExternal(browser, target.href);
    assert.equal(again.status, 200, `signed in silently at the external provider: ${again.location}`);
    assert.ok(formAction(again.body, 'login'), 'the external provider shows its sign-in form');
  });

  /** A federated sign-in through the fake provider, whose ID token says the user authenticated at `authTime`. */
  async function viaFake(extra: Record<string, string>, authTime: number | undefined, email: string) {
    const browser = new Browser(h.fetch);
    const request = await federate(browser, 'fake', extra);
    const nonce = request.searchParams.get('nonce')!;
    op.tokenResponse = async () => {
      const now = Math.floor(Date.now() / 1000);
      const idToken = await new SignJWT({ nonce, email, email_verified: true, groups: [], ...(authTime === undefined ? {} : { auth_time: authTime }) })
        .setProtectedHeader({ alg: 'ES256', kid: 'op-1' }).setIssuer(op.issuer).setAudience(FAKE_CLIENT_ID)
        .setSubject(email).setIssuedAt(now).setExpirationTime(now + 300).sign(op.key);
      return { status: 200, body: { access_token: 'at-1', token_type: 'Bearer', expires_in: 300, id_token: idToken } };
    };
    const callback = new URL(request.searchParams.get('redirect_uri')!);
    callback.search = new URLSearchParams({ code: 'code-1', state: request.searchParams.get('state')! }).toString();
    return { request, answer: await back(browser, callback.href) };
  }

  const refused = (r: { body: string; location: string | undefined }) => {
    assert.equal(r.location, undefined);
    assert.match(r.body, /ERR_IDENTITY_FEDERATION_FAILED/);
  };
  const hourAgo = () => Math.floor(Date.now() / 1000) - 3600;

  it('refuses an external provider that ignores prompt=login and vouches for an authentication from an hour ago', async () => {
    const { request, answer } = await viaFake({ prompt: 'login' }, hourAgo(), 'stale@example.com');
    assert.equal(request.searchParams.get('prompt'), 'login');
    refused(answer);
    assert.equal(await h.idp.accounts.findUser('stale@example.com'), undefined);
  });

  it('refuses an external provider that answers prompt=login without auth_time', async () => {
    refused((await viaFake({ prompt: 'login' }, undefined, 'silent@example.com')).answer);
  });

  it('passes max_age on and refuses an external authentication older than it', async () => {
    const { request, answer } = await viaFake({ max_age: '300' }, hourAgo(), 'old@example.com');
    assert.equal(request.searchParams.get('max_age'), '300');
    refused(answer);
  });

  it('signs in when the external provider authenticated the user again (control)', async () => {
    const { answer } = await viaFake({ prompt: 'login', max_age: '300' }, Math.floor(Date.now() / 1000), 'fresh@example.com');
    assert.ok(answer.location?.startsWith(REDIRECT), `${answer.body.slice(0, 300)}`);
  });

  it('asks nothing more of the external provider when the client did not ask for a fresh sign-in (control)', async () => {
    const { request, answer } = await viaFake({}, undefined, 'plain@example.com');
    assert.equal(request.searchParams.get('prompt'), null);
    assert.equal(request.searchParams.get('max_age'), null);
    assert.ok(answer.location?.startsWith(REDIRECT), `${answer.body.slice(0, 300)}`);
  });
});
