/** Attacks on the sign-in pages, each named after the attack and the expected outcome. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from 'otplib';
import * as oidc from 'openid-client';
import { IDP_BROWSER_COOKIE, IDP_COOKIE_NAMES } from '../../src/identity/oidc/cookie-names.ts';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { followToCallback, PASSWORD, REDIRECT, rpConfig, startAuth, submitLogin } from './support/flows.ts';
import { Browser, formAction, inputValue } from './support/browser.ts';

describe('sign-in attacks', () => {
  let h: Harness;
  let config: oidc.Configuration;

  before(async () => {
    h = await startHarness('sqlite', { login: { delayAfterFailures: 2, lockAfterFailures: 3, lockSeconds: 2, maxDelayMs: 50 } });
    await h.idp.accounts.addUser({ username: 'alice', password: PASSWORD, roles: ['mail:user'] });
    await h.idp.accounts.addUser({ username: 'bob', password: PASSWORD });
    await h.idp.accounts.addUser({ username: 'mallory', password: PASSWORD });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(() => h?.close());

  it('refuses a login POST without the CSRF token (403, no session)', async () => {
    const start = await startAuth(h, config);
    const r = await submitLogin(h, start, 'alice', PASSWORD, '');
    assert.equal(r.status, 403);
    assert.match(r.body, /ERR_AUTHN_CSRF/);
    assert.equal(r.location, undefined);
  });

  it('refuses a login POST with the CSRF token of another interaction', async () => {
    const mine = await startAuth(h, config);
    const other = await startAuth(h, config);
    const r = await submitLogin(h, mine, 'alice', PASSWORD, inputValue(other.loginPage, 'csrf'));
    assert.equal(r.status, 403);
  });

  it('refuses a login POST replayed from a browser without the interaction cookie (login CSRF)', async () => {
    const attacker = await startAuth(h, config);
    const victim = await startAuth(h, config);
    const r = await victim.browser.request(new URL(formAction(attacker.loginPage, 'login')!, h.origin), {
      form: { csrf: inputValue(attacker.loginPage, 'csrf')!, username: 'mallory', password: PASSWORD },
    });
    assert.equal(r.status, 400);
    assert.match(r.body, /ERR_IDENTITY_INTERACTION_INVALID/);
  });

  it('ignores a return URL smuggled into the login form (no open redirect)', async () => {
    const start = await startAuth(h, config);
    const r = await start.browser.request(new URL(`${formAction(start.loginPage, 'login')!}?return_to=https://evil.example/`, h.origin), {
      form: { csrf: inputValue(start.loginPage, 'csrf')!, username: 'alice', password: PASSWORD, return_to: 'https://evil.example/', redirect_uri: 'https://evil.example/' },
    });
    assert.equal(r.status, 303);
    assert.ok(r.location!.startsWith(`${h.origin}/oidc/auth/`), r.location);
    const callback = await followToCallback(h, start, r.location);
    assert.equal(callback.origin, new URL(REDIRECT).origin);
  });

  it('refuses a federation callback with an unknown state instead of redirecting anywhere', async () => {
    const r = await h.fetch(`${h.origin}/oidc/federation/callback/corp?code=x&state=${'a'.repeat(43)}`, { redirect: 'manual' });
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('location'), null);
  });

  it('rotates the session id at login, so a planted session cookie is worthless (session fixation)', async () => {
    // The attacker signs in as themselves and plants their session cookie in the victim's browser.
    const attacker = await startAuth(h, config);
    await followToCallback(h, attacker, (await submitLogin(h, attacker, 'mallory', PASSWORD)).location);
    const planted = attacker.browser.cookies.get(IDP_COOKIE_NAMES.session)!;
    assert.ok(planted);
    const victim = await startAuth(h, config);
    victim.browser.cookies.set(IDP_COOKIE_NAMES.session, { ...planted });
    const fresh = await startAuth(h, config, undefined, victim.browser);
    await followToCallback(h, fresh, (await submitLogin(h, fresh, 'alice', PASSWORD)).location);
    const after = fresh.browser.cookies.get(IDP_COOKIE_NAMES.session)!;
    assert.notEqual(after.value, planted.value, 'session id changed at login');
  });

  it("sets the IdP session cookie and its .sig as __Host- (Secure, Path=/, no Domain), so a sibling subdomain cannot set them; the path-scoped interaction and resume cookies as __Secure-, next to the __Host- browser binding", async () => {
    const start = await startAuth(h, config);
    const r = await submitLogin(h, start, 'mallory', PASSWORD);
    const seen: string[] = [];
    let location = r.location;
    for (let hops = 0; location?.startsWith(h.origin) && hops < 8; hops++) {
      const next = await start.browser.request(location);
      seen.push(...next.headers.getSetCookie().filter((c) => c.includes('gh_idp_session')));
      location = next.location;
    }
    const names = new Set(seen.map((c) => c.slice(0, c.indexOf('='))));
    assert.deepEqual([...names].sort(), [IDP_COOKIE_NAMES.session, `${IDP_COOKIE_NAMES.session}.sig`]);
    for (const c of seen) {
      assert.match(c, /; path=\/(;|$)/i, c);
      assert.match(c, /; secure(;|$)/i, c);
      assert.doesNotMatch(c, /; domain=/i, c);
    }
    // The interaction and resume cookies are scoped to one interaction's path, which __Host- forbids: __Secure-.
    const first = await new Browser(h.fetch).request(oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT, scope: 'openid', state: oidc.randomState(), nonce: oidc.randomNonce(),
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    }));
    // Next to them, the __Host- cookie that binds the interaction to this browser (interaction-binding.test.ts).
    const scoped = first.headers.getSetCookie();
    assert.deepEqual([...new Set(scoped.map((c) => c.slice(0, c.indexOf('='))))].sort(), [IDP_BROWSER_COOKIE, IDP_COOKIE_NAMES.interaction, `${IDP_COOKIE_NAMES.interaction}.sig`, IDP_COOKIE_NAMES.resume, `${IDP_COOKIE_NAMES.resume}.sig`].sort());
    for (const c of scoped) assert.match(c, /; secure(;|$)/i, c);
  });

  it('ignores an attacker\'s signed IdP session planted from a sibling subdomain (Domain=.<site>): the victim gets the sign-in page, not a login as the attacker (login CSRF by cookie tossing)', async () => {
    // The attacker signs in in their own browser and keeps the session cookie and its .sig.
    const attacker = await startAuth(h, config);
    await followToCallback(h, attacker, (await submitLogin(h, attacker, 'mallory', PASSWORD)).location);
    const own = [...attacker.browser.cookies].filter(([name]) => name.includes('gh_idp_session'));
    assert.equal(own.length, 2, 'the session cookie and its signature');
    // A sibling subdomain can set any name but a __Host- one (browsers refuse __Host- with Domain).
    const victim = new Browser(h.fetch);
    for (const [name, cookie] of own) victim.cookies.set(name.replace(/^__Host-/, ''), { ...cookie });
    // The victim starts an ordinary sign-in at a relying party (no prompt).
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT, scope: 'openid', state: oidc.randomState(), nonce: oidc.randomNonce(),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    let r = await victim.request(url);
    for (let hops = 0; r.location?.startsWith(h.origin) && hops < 8; hops++) r = await victim.request(r.location);
    assert.equal(r.location, undefined, `no code for the relying party: ${r.location}`);
    assert.equal(r.status, 200);
    assert.ok(formAction(r.body, 'login'), 'the sign-in page');
  });

  it('delays, then locks an account after repeated wrong passwords, and unlocks after the lock time', async () => {
    for (let i = 0; i < 3; i++) {
      const start = await startAuth(h, config);
      const r = await submitLogin(h, start, 'bob', 'wrong password guess');
      assert.ok([401, 429].includes(r.status));
      assert.match(r.body, /Invalid user name or password|Too many attempts/);
    }
    assert.ok(h.events.some((e) => e.name === 'identity.login.throttled' && e.payload.failures >= 2));
    assert.ok(h.events.some((e) => e.name === 'identity.account.locked'));
    const locked = await startAuth(h, config);
    assert.equal((await submitLogin(h, locked, 'bob', PASSWORD)).status, 429, 'correct password refused while locked');
    await new Promise((r) => setTimeout(r, 2100));
    const again = await startAuth(h, config);
    const ok = await submitLogin(h, again, 'bob', PASSWORD);
    assert.equal(ok.status, 303, 'unlocked after lockSeconds');
  });

  it('answers an unknown user exactly like a wrong password (no user enumeration)', async () => {
    const a = await submitLogin(h, await startAuth(h, config), 'nobody-here', 'wrong password guess');
    const b = await submitLogin(h, await startAuth(h, config), 'alice', 'wrong password guess');
    assert.equal(a.status, b.status);
    const msg = (html: string) => /role="alert">([^<]*)</.exec(html)?.[1];
    assert.equal(msg(a.body), msg(b.body));
    await h.idp.accounts.unlockUser('alice');
  });

  describe('TOTP', () => {
    let secret: string;
    let recovery: string[];

    it('enrolls TOTP at login when required, then refuses a replayed code and a reused recovery code', async () => {
      const h2 = await startHarness('sqlite', { mfa: { required: true, recoveryCodes: 4 } });
      try {
        await h2.idp.accounts.addUser({ username: 'dave', password: PASSWORD });
        const app = await h2.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
        const cfg = await rpConfig(h2, 'webapp', app.secret!);
        const start = await startAuth(h2, cfg);
        const enroll = await submitLogin(h2, start, 'dave', PASSWORD);
        assert.equal(enroll.status, 200);
        secret = /data-totp-secret="([A-Z2-7]+)"/.exec(enroll.body)![1]!;
        const code = await generate({ secret });
        const codes = await start.browser.request(new URL(formAction(enroll.body, 'enroll')!, h2.origin), { form: { csrf: inputValue(enroll.body, 'csrf')!, code } });
        recovery = [...codes.body.matchAll(/data-recovery-code>([^<]+)</g)].map((m) => m[1]!);
        assert.equal(recovery.length, 4);
        const done = await start.browser.request(new URL(formAction(codes.body, 'continue')!, h2.origin), { form: { csrf: inputValue(codes.body, 'csrf')! } });
        await followToCallback(h2, start, done.location);

        // Next login: the same code (same time step) is a replay and is refused.
        const second = await startAuth(h2, cfg);
        const mfa = await submitLogin(h2, second, 'dave', PASSWORD);
        const replay = await second.browser.request(new URL(formAction(mfa.body, 'mfa')!, h2.origin), { form: { csrf: inputValue(mfa.body, 'csrf')!, code } });
        assert.equal(replay.status, 401, 'TOTP replay refused');
        assert.ok(h2.events.some((e) => e.name === 'identity.mfa.failed' && e.payload.reason === 'replay'));

        // A recovery code works once…
        const used = await second.browser.request(new URL(formAction(mfa.body, 'mfa')!, h2.origin), { form: { csrf: inputValue(mfa.body, 'csrf')!, recovery_code: recovery[0]! } });
        assert.equal(used.status, 303);
        await followToCallback(h2, second, used.location);
        // …and never again.
        const third = await startAuth(h2, cfg);
        const mfa3 = await submitLogin(h2, third, 'dave', PASSWORD);
        const reused = await third.browser.request(new URL(formAction(mfa3.body, 'mfa')!, h2.origin), { form: { csrf: inputValue(mfa3.body, 'csrf')!, recovery_code: recovery[0]! } });
        assert.equal(reused.status, 401, 'recovery code reuse refused');
        const id = (await followToCallback(h2, third, (await third.browser.request(new URL(formAction(mfa3.body, 'mfa')!, h2.origin), { form: { csrf: inputValue(mfa3.body, 'csrf')!, recovery_code: recovery[1]! } })).location));
        assert.ok(id.searchParams.get('code'));
      } finally {
        await h2.close();
      }
    });

    it('guessing TOTP codes locks the account after lockAfterFailures wrong codes, even with the password entered again in between, and the right code is then refused', async () => {
      const h3 = await startHarness('sqlite', { mfa: { required: true, recoveryCodes: 4 }, login: { delayAfterFailures: 100, lockAfterFailures: 3, lockSeconds: 60, maxDelayMs: 0 } });
      try {
        const erin = await h3.idp.accounts.addUser({ username: 'erin', password: PASSWORD });
        const app = await h3.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
        const cfg = await rpConfig(h3, 'webapp', app.secret!);
        const start = await startAuth(h3, cfg);
        const enroll = await submitLogin(h3, start, 'erin', PASSWORD);
        const totp = /data-totp-secret="([A-Z2-7]+)"/.exec(enroll.body)![1]!;
        const codes = await start.browser.request(new URL(formAction(enroll.body, 'enroll')!, h3.origin), { form: { csrf: inputValue(enroll.body, 'csrf')!, code: await generate({ secret: totp }) } });
        await followToCallback(h3, start, (await start.browser.request(new URL(formAction(codes.body, 'continue')!, h3.origin), { form: { csrf: inputValue(codes.body, 'csrf')! } })).location);
        // Forget the enrollment's time step, so that the current code is a valid, unused one.
        await new IdentityUsersRepo(h3.store.db).update(erin.id, { totpLastStep: undefined });
        const valid = new Set([await generate({ secret: totp }), await generate({ secret: totp, epoch: Math.floor(Date.now() / 1000) - 30 })]);
        const wrong = ['000000', '111111', '222222', '333333'].filter((c) => !valid.has(c));
        const guess = async (s: Awaited<ReturnType<typeof startAuth>>, page: string, code: string) =>
          s.browser.request(new URL(formAction(page, 'mfa')!, h3.origin), { form: { csrf: inputValue(page, 'csrf')!, code } });

        // The attacker knows the password and guesses codes, signing in again before the count reaches the lock.
        const first = await startAuth(h3, cfg);
        const mfa1 = await submitLogin(h3, first, 'erin', PASSWORD);
        assert.equal(mfa1.status, 200);
        for (const code of wrong.slice(0, 2)) assert.equal((await guess(first, mfa1.body, code)).status, 401);
        const second = await startAuth(h3, cfg);
        const mfa2 = await submitLogin(h3, second, 'erin', PASSWORD);
        assert.equal(mfa2.status, 200, 'two wrong codes do not lock yet');
        assert.equal((await guess(second, mfa2.body, wrong[2]!)).status, 429, 'the third wrong code locks the account');
        assert.ok(h3.events.some((e) => e.name === 'identity.account.locked' && e.payload.subject === erin.id));

        // Locked: the right code is refused in the open interaction, and so is the password.
        const right = await guess(second, mfa2.body, await generate({ secret: totp }));
        assert.equal(right.status, 429);
        assert.equal(right.location, undefined);
        assert.equal((await submitLogin(h3, await startAuth(h3, cfg), 'erin', PASSWORD)).status, 429);

        // The code itself was good: once unlocked, it signs in.
        await h3.idp.accounts.unlockUser('erin');
        const third = await startAuth(h3, cfg);
        const mfa3 = await submitLogin(h3, third, 'erin', PASSWORD);
        const ok = await guess(third, mfa3.body, await generate({ secret: totp }));
        assert.equal(ok.status, 303);
        assert.ok((await followToCallback(h3, third, ok.location)).searchParams.get('code'));
      } finally {
        await h3.close();
      }
    });
  });
});
