/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) with openid-client building
 * the end-session URL, a cookie-keeping browser stand-in, and the IdP inside a running
 * Gatehouse.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import { Browser, inputValue } from './support/browser.ts';
import { loginAndExchange, PASSWORD, REDIRECT } from './support/flows.ts';
import { discover, startIdpGateway, type IdpGateway } from './support/gateway-idp.ts';

const SIGNED_OUT = 'https://app.example/signed-out';

describe('RP-initiated logout', () => {
  let idp: IdpGateway;
  let config: oidc.Configuration;

  before(async () => {
    idp = await startIdpGateway();
    await idp.accounts.addUser({ username: 'alice', password: PASSWORD, roles: ['mail:user'] });
    const app = await idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT], postLogoutRedirectUris: [SIGNED_OUT] });
    config = await discover(idp, 'webapp', app.secret!);
  });
  after(() => idp?.close());

  /** prompt=none: the IdP answers from the browser's session alone (code) or says login_required. */
  async function silentAuthorization(browser: Browser): Promise<URL> {
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT, scope: 'openid', prompt: 'none', state: oidc.randomState(),
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    let location = (await browser.request(url)).location;
    for (let hops = 0; location?.startsWith(idp.origin) && hops < 8; hops++) location = (await browser.request(location)).location;
    if (!location?.startsWith(REDIRECT)) assert.fail(`ended at ${location}`);
    return new URL(location);
  }

  async function signedIn() {
    const { tokens, start } = await loginAndExchange(idp, config, 'alice', PASSWORD, 'openid');
    assert.ok((await silentAuthorization(start.browser)).searchParams.get('code'), 'the session answers prompt=none before logout');
    return { idToken: tokens.id_token!, browser: start.browser };
  }

  function endSessionUrl(idToken: string, postLogout = SIGNED_OUT): URL {
    return oidc.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: postLogout, state: 'bye-123' });
  }

  it('ends the session and returns to the registered post-logout URI with the state', async () => {
    const { idToken, browser } = await signedIn();
    const page = await browser.request(endSessionUrl(idToken));
    assert.equal(page.status, 200);
    const action = /<form[^>]*action="([^"]+)"/.exec(page.body)?.[1];
    assert.ok(action && inputValue(page.body, 'xsrf'), 'confirmation form with its xsrf token');
    const confirm = await browser.request(new URL(action, idp.origin), { form: { xsrf: inputValue(page.body, 'xsrf')!, logout: 'yes' } });
    assert.equal(confirm.status, 303);
    const back = new URL(confirm.location!);
    assert.equal(`${back.origin}${back.pathname}`, SIGNED_OUT);
    assert.equal(back.searchParams.get('state'), 'bye-123');
    assert.equal((await silentAuthorization(browser)).searchParams.get('error'), 'login_required', 'the session is gone');
  });

  /** What sendHtml sends with every sign-in page: not framed, not cached, nothing loaded from elsewhere. */
  function assertUnframeable(res: { headers: Headers }, what: string): void {
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /frame-ancestors 'none'/, `${what}: CSP ${csp}`);
    assert.match(csp, /default-src 'none'/, `${what}: CSP ${csp}`);
    assert.equal(res.headers.get('x-frame-options'), 'DENY', what);
    assert.equal(res.headers.get('cache-control'), 'no-store', what);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', what);
  }

  it("the logout confirmation and its success page cannot be framed or cached (attack: clickjacking the \"Sign out\" button)", async () => {
    const { idToken, browser } = await signedIn();
    const page = await browser.request(endSessionUrl(idToken));
    assert.equal(page.status, 200);
    assert.match(page.body, /Sign out/);
    assertUnframeable(page, 'logout confirmation');
    assert.doesNotMatch(page.headers.get('content-security-policy')!, /script-src(?! 'none'(;|$))/, 'no script allowed on the confirmation page');
    const success = await browser.request(`${idp.origin}/oidc/session/end/success`);
    assert.equal(success.status, 200);
    assertUnframeable(success, 'logout success');
  });

  it('error pages of the IdP (unknown client, unregistered post-logout URI) cannot be framed or cached either', async () => {
    const html = { headers: { accept: 'text/html' } };
    const unknown = await new Browser(idp.fetch).request(`${idp.origin}/oidc/auth?client_id=nope&response_type=code&scope=openid`, html);
    assert.equal(unknown.status, 400);
    assertUnframeable(unknown, 'authorization error page');
    const { idToken, browser } = await signedIn();
    const bad = await browser.request(endSessionUrl(idToken, 'https://evil.example/phish'), html);
    assert.equal(bad.status, 400);
    assert.match(bad.headers.get('content-type')!, /^text\/html/);
    assertUnframeable(bad, 'logout error page');
  });

  it("oidc-provider's auto-submitting form (logout without a session) runs its own inline script, allowed by hash, and no other", async () => {
    const page = await new Browser(idp.fetch).request(`${idp.origin}/oidc/session/end`);
    assert.equal(page.status, 200);
    assertUnframeable(page, 'auto-submit page');
    const script = /<script>([\s\S]*?)<\/script>/.exec(page.body)?.[1];
    assert.ok(script !== undefined, 'an inline script');
    const scriptSrc = /script-src ([^;]+)/.exec(page.headers.get('content-security-policy')!)?.[1];
    assert.equal(scriptSrc, `'sha256-${createHash('sha256').update(script!).digest('base64')}'`);
  });

  it('refuses to redirect to an unregistered post-logout URI (no open redirect)', async () => {
    const { idToken, browser } = await signedIn();
    const res = await browser.request(endSessionUrl(idToken, 'https://evil.example/phish'));
    assert.equal(res.status, 400);
    assert.equal(res.location, undefined);
    assert.match(res.body, /invalid_request/);
  });

  it('refuses a logout confirmation without the form\'s xsrf token, and the session survives (logout CSRF)', async () => {
    const { idToken, browser } = await signedIn();
    const page = await browser.request(endSessionUrl(idToken));
    const action = /<form[^>]*action="([^"]+)"/.exec(page.body)![1]!;
    const forged = await browser.request(new URL(action, idp.origin), { form: { xsrf: 'forged', logout: 'yes' } });
    assert.equal(forged.status, 400);
    assert.ok((await silentAuthorization(browser)).searchParams.get('code'), 'still signed in');
  });
});
