/**
 * Login CSRF by tossing the path-scoped interaction and resume cookies: a sibling subdomain on
 * HTTPS can set `__Secure-` cookies for this host (`Domain=.<site>`), so an attacker can plant
 * the pair their own sign-in received and send the victim to finish that sign-in.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { IDP_BROWSER_COOKIE, IDP_COOKIE_NAMES } from '../../src/identity/oidc/cookie-names.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { followToCallback, PASSWORD, REDIRECT, rpConfig, startAuth, submitLogin, type AuthStart } from './support/flows.ts';
import { Browser, formAction, inputValue } from './support/browser.ts';

/** Copies the attacker's interaction and resume cookies (and their .sig) into the victim's browser, as a sibling subdomain could. */
function toss(from: Browser, to: Browser): void {
  const tossed = from.scopedCookies().filter((c) => c.name.startsWith(IDP_COOKIE_NAMES.interaction) || c.name.startsWith(IDP_COOKIE_NAMES.resume));
  assert.ok(tossed.length >= 2, 'the attacker holds interaction/resume cookies');
  // A sibling can set any name but a __Host- one; these are __Secure- and keep their names.
  for (const c of tossed) to.setScoped(c.name, c.value, c.path);
}

/** Follows same-origin redirects in `browser`; the last answer. */
async function follow(h: Harness, browser: Browser, location: string | undefined) {
  let r: Awaited<ReturnType<Browser['request']>> | undefined;
  for (let hops = 0; location?.startsWith(h.origin) && hops < 8; hops++) {
    r = await browser.request(location);
    location = r.location;
  }
  return { last: r, location };
}

/** Whether `browser` holds an IdP session: a sign-in without prompt either gets a code at once or the sign-in page. */
async function silentSignIn(h: Harness, config: oidc.Configuration, browser: Browser): Promise<URL | undefined> {
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT, scope: 'openid', state: oidc.randomState(), nonce: oidc.randomNonce(),
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
  });
  const { location } = await follow(h, browser, url.href);
  return location?.startsWith(REDIRECT) ? new URL(location) : undefined;
}

describe('interaction bound to the browser that started it', () => {
  let h: Harness;
  let config: oidc.Configuration;

  before(async () => {
    h = await startHarness('sqlite');
    await h.idp.accounts.addUser({ username: 'alice', password: PASSWORD });
    await h.idp.accounts.addUser({ username: 'mallory', password: PASSWORD });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(() => h?.close());

  /** The attacker signs in as mallory without a session and stops before the resume redirect. */
  async function attackerSignedIn(): Promise<{ attacker: AuthStart; resume: string }> {
    const attacker = await startAuth(h, config);
    const r = await submitLogin(h, attacker, 'mallory', PASSWORD);
    assert.equal(r.status, 303);
    assert.ok(r.location?.startsWith(`${h.origin}/oidc/auth/${attacker.uid}`), r.location);
    return { attacker, resume: r.location! };
  }

  it("refuses to resume an attacker's finished sign-in from the victim's browser with the attacker's interaction and resume cookies planted by a sibling subdomain: no code, no IdP session (login CSRF)", async () => {
    const { attacker, resume } = await attackerSignedIn();
    const victim = new Browser(h.fetch);
    toss(attacker.browser, victim);
    const { last, location } = await follow(h, victim, resume);
    assert.ok(!location?.startsWith(REDIRECT), `no code for the relying party: ${location}`);
    assert.equal(last?.status, 403);
    assert.match(last!.body, /ERR_IDENTITY_INTERACTION_BROWSER_MISMATCH/);
    assert.equal(victim.cookies.get(IDP_COOKIE_NAMES.session), undefined, 'no IdP session in the victim\'s browser');
    assert.equal(await silentSignIn(h, config, victim), undefined, 'the victim is not signed in as the attacker');
  });

  it("refuses it also in a victim's browser that holds a binding of its own (has signed in before): the attacker's interaction is bound to the attacker's browser", async () => {
    const victim = new Browser(h.fetch);
    await startAuth(h, config, undefined, victim);
    assert.ok(victim.cookies.get(IDP_BROWSER_COOKIE), 'the victim has a binding value');
    const { attacker, resume } = await attackerSignedIn();
    toss(attacker.browser, victim);
    const { last, location } = await follow(h, victim, resume);
    assert.ok(!location?.startsWith(REDIRECT), `no code for the relying party: ${location}`);
    assert.equal(last?.status, 403);
    assert.match(last!.body, /ERR_IDENTITY_INTERACTION_BROWSER_MISMATCH/);
    assert.equal(victim.cookies.get(IDP_COOKIE_NAMES.session), undefined);
  });

  it("refuses the attacker's sign-in form POSTed from the victim's browser with the attacker's interaction cookie planted (login CSRF through the form): 403, no session", async () => {
    const attacker = await startAuth(h, config);
    const victim = new Browser(h.fetch);
    toss(attacker.browser, victim);
    const r = await victim.request(new URL(formAction(attacker.loginPage, 'login')!, h.origin), {
      form: { csrf: inputValue(attacker.loginPage, 'csrf')!, username: 'mallory', password: PASSWORD },
    });
    assert.equal(r.status, 403);
    assert.match(r.body, /ERR_IDENTITY_INTERACTION_BROWSER_MISMATCH/);
    assert.equal(r.location, undefined);
    // The sign-in page itself is refused too.
    const page = await victim.request(`${h.origin}/oidc/interaction/${attacker.uid}`);
    assert.equal(page.status, 403);
  });

  it('sets the binding as __Host- (Secure, HttpOnly, SameSite=Lax, Path=/, no Domain) when an interaction starts, and reuses it: two sign-ins in two tabs of one browser both finish', async () => {
    const browser = new Browser(h.fetch);
    const first = await startAuth(h, config, undefined, browser);
    const value = browser.cookies.get(IDP_BROWSER_COOKIE)?.value;
    assert.ok(value);
    const second = await startAuth(h, config, undefined, browser);
    assert.equal(browser.cookies.get(IDP_BROWSER_COOKIE)?.value, value, 'one value per browser');
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT, scope: 'openid', state: oidc.randomState(), nonce: oidc.randomNonce(), prompt: 'login',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const set = (await new Browser(h.fetch).request(url)).headers.getSetCookie().filter((c) => c.startsWith(`${IDP_BROWSER_COOKIE}=`));
    assert.equal(set.length, 1);
    for (const attr of [/; path=\/(;|$)/i, /; secure(;|$)/i, /; httponly(;|$)/i, /; samesite=lax(;|$)/i]) assert.match(set[0]!, attr);
    assert.doesNotMatch(set[0]!, /; domain=/i);
    // Second tab first, then the first tab.
    const cb2 = await followToCallback(h, second, (await submitLogin(h, second, 'alice', PASSWORD)).location);
    const cb1 = await followToCallback(h, first, (await submitLogin(h, first, 'alice', PASSWORD)).location);
    assert.ok(cb1.searchParams.get('code') && cb2.searchParams.get('code'));
    const tokens = await oidc.authorizationCodeGrant(config, cb1, { pkceCodeVerifier: first.verifier, expectedState: first.state, expectedNonce: first.nonce });
    assert.ok(tokens.claims()?.sub);
  });

  it("refuses a resume cookie planted at the authorization path's prefix (Path=/oidc/auth) in front of the victim's own sign-in", async () => {
    const { attacker } = await attackerSignedIn();
    const resume = attacker.browser.scopedCookies().filter((c) => c.name.startsWith(IDP_COOKIE_NAMES.resume));
    const victim = await startAuth(h, config);
    for (const c of resume) victim.browser.setScoped(c.name, c.value, '/oidc/auth');
    // The victim's own interaction cookies are gone (say, expired); only the planted pair is sent at resume.
    const { last, location } = await follow(h, victim.browser, `${h.origin}/oidc/auth/${attacker.uid}`);
    assert.ok(!location?.startsWith(REDIRECT), `no code for the relying party: ${location}`);
    assert.equal(last?.status, 403);
    assert.equal(victim.browser.cookies.get(IDP_COOKIE_NAMES.session), undefined);
  });
});
