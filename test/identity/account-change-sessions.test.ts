/**
 * What happens to the sign-in sessions and tokens of an account that an administrator
 * disabled or whose password was reset: the browser's next authorization request must ask
 * for a sign-in again (not fail), and nothing issued before the change keeps working.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { startHarness, type Harness } from './support/harness.ts';
import { followToCallback, loginAndExchange, PASSWORD, REDIRECT, rpConfig, submitLogin } from './support/flows.ts';
import type { Browser } from './support/browser.ts';

describe('sessions and tokens after an account change', () => {
  let h: Harness;
  let config: oidc.Configuration;

  before(async () => {
    h = await startHarness('sqlite');
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(() => h?.close());

  /** An authorization request without `prompt`, as an app does on its next visit (SSO). */
  async function authorize(browser: Browser, extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT, scope: 'openid', state, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
    });
    const r = await browser.request(url);
    return { r, verifier, state };
  }

  /**
   * Signing in as another account than the session's makes oidc-provider end that session
   * first, through a self-submitting form to its logout confirmation (what a browser's script
   * does); returns where the flow continues.
   */
  async function throughSessionSwitch(browser: Browser, location: string | undefined): Promise<string | undefined> {
    if (!location) return location;
    const page = await browser.request(location);
    const action = /action="([^"]+\/oidc\/session\/end\/confirm)"/.exec(page.body)?.[1];
    if (!action) return page.location;
    return (await browser.request(action, { form: { xsrf: /name="xsrf" value="([^"]+)"/.exec(page.body)![1]!, logout: 'yes' } })).location;
  }

  it("sends the live session of a disabled user back to the sign-in page (not a 500), where another user can sign in", async () => {
    await h.idp.accounts.addUser({ username: 'dan', password: PASSWORD });
    const alice = await h.idp.accounts.addUser({ username: 'alice', password: PASSWORD });
    const { start } = await loginAndExchange(h, config, 'dan');
    await h.idp.accounts.setUserDisabled('dan', true);

    const { r } = await authorize(start.browser);
    assert.equal(r.status, 303, r.body.slice(0, 300));
    assert.match(r.location!, /\/oidc\/interaction\//);
    const page = await start.browser.request(r.location!);
    assert.equal(page.status, 200);
    assert.match(page.body, /name="password"/);

    const next = { ...start, loginPage: page.body };
    const callback = await followToCallback(h, next, await throughSessionSwitch(start.browser, (await submitLogin(h, next, 'alice', PASSWORD)).location));
    assert.ok(callback.searchParams.get('code'));
    const silent = await authorize(start.browser);
    const code = await followToCallback(h, next, silent.r.location);
    const tokens = await oidc.authorizationCodeGrant(config, code, { pkceCodeVerifier: silent.verifier, expectedState: silent.state });
    assert.equal(tokens.claims()!.sub, alice.id);
  });

  it('answers prompt=none for the live session of a disabled user with login_required at the redirect URI', async () => {
    await h.idp.accounts.addUser({ username: 'erin', password: PASSWORD });
    const { start } = await loginAndExchange(h, config, 'erin');
    await h.idp.accounts.setUserDisabled('erin', true);
    const { r } = await authorize(start.browser, { prompt: 'none' });
    assert.equal(r.status, 303, r.body.slice(0, 300));
    const location = new URL(r.location!);
    assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
    assert.equal(location.searchParams.get('error'), 'login_required');
    assert.equal(location.searchParams.get('code'), null);
  });

  /** The next second: a sign-in in the same second as an account change counts as before it. */
  const nextSecond = () => new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));

  for (const [change, apply] of [
    ['an administrator reset the password', (ref: string) => h.idp.accounts.setPassword(ref, 'a brand new passphrase 2')],
    ['an administrator reset the MFA', (ref: string) => h.idp.accounts.resetMfa(ref)],
  ] as const) {
    it(`ends every sign-in made before ${change}: refresh token, access token, SSO session`, async () => {
      const name = `u${Math.random().toString(36).slice(2, 10)}`;
      await h.idp.accounts.addUser({ username: name, password: PASSWORD });
      const { start, tokens } = await loginAndExchange(h, config, name);
      const sub = tokens.claims()!.sub;
      await apply(name);

      await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (e: any) => e.error === 'invalid_grant', 'refresh token of the old sign-in');
      await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, sub), 'userinfo with the old access token');
      assert.deepEqual(await oidc.tokenIntrospection(config, tokens.access_token), { active: false });
      assert.deepEqual(await oidc.tokenIntrospection(config, tokens.refresh_token!), { active: false });
      const { r } = await authorize(start.browser, { prompt: 'none' });
      assert.equal(new URL(r.location!).searchParams.get('error'), 'login_required', 'the old SSO session gives no code');
    });
  }

  it('keeps the tokens of a sign-in made before a user was disabled dead after the user is enabled again', async () => {
    await h.idp.accounts.addUser({ username: 'fred', password: PASSWORD });
    const { tokens } = await loginAndExchange(h, config, 'fred');
    await h.idp.accounts.setUserDisabled('fred', true);
    await h.idp.accounts.setUserDisabled('fred', false);
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (e: any) => e.error === 'invalid_grant');
    assert.deepEqual(await oidc.tokenIntrospection(config, tokens.access_token), { active: false });
  });

  it('lets the user sign in again after the password reset, and those tokens work', async () => {
    await h.idp.accounts.addUser({ username: 'gina', password: PASSWORD });
    await loginAndExchange(h, config, 'gina');
    await h.idp.accounts.setPassword('gina', 'a brand new passphrase 3');
    await nextSecond();
    const { tokens } = await loginAndExchange(h, config, 'gina', 'a brand new passphrase 3');
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    assert.equal((await oidc.tokenIntrospection(config, refreshed.access_token)).active, true);
    await oidc.fetchUserInfo(config, refreshed.access_token, tokens.claims()!.sub);
  });
});
