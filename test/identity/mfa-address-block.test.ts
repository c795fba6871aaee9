/**
 * A client whose address got blocked after it passed the password step must not go on
 * submitting codes in the sign-in it had already opened: the second-factor step re-checks the
 * sign-in's per-address block that the password step checks (real IdP over HTTPS, SQLite
 * store), and a detection block of the address is enforced on it by the gateway's block stage,
 * before the IdP (composed gateway).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from 'otplib';
import type * as oidc from 'openid-client';
import { IDP_COOKIE_NAMES } from '../../src/identity/oidc/cookie-names.ts';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { followToCallback, PASSWORD, REDIRECT, rpConfig, startAuth, submitLogin } from './support/flows.ts';
import { formAction, inputValue } from './support/browser.ts';
import { startIdpGateway, type IdpGateway } from './support/gateway-idp.ts';
import { addBlock } from '../../src/detect/blocks.ts';
import type { DetectExtension } from '../../src/detect/extension.ts';

describe('sign-in: second factor from a blocked address', () => {
  let h: Harness;
  let cfg: oidc.Configuration;
  let totp: string;
  let recovery: string[];
  let erinId: string;

  before(async () => {
    // High per-account thresholds: only the address block can stop these attempts.
    h = await startHarness('sqlite', { mfa: { required: true, recoveryCodes: 4 }, login: { delayAfterFailures: 100, lockAfterFailures: 100, addressLockAfterFailures: 3, addressWindowSeconds: 60, lockSeconds: 60, maxDelayMs: 0 } });
    erinId = (await h.idp.accounts.addUser({ username: 'erin', password: PASSWORD })).id;
    await h.idp.accounts.addUser({ username: 'bob', password: PASSWORD });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    cfg = await rpConfig(h, 'webapp', app.secret!);
    const start = await startAuth(h, cfg);
    const enroll = await submitLogin(h, start, 'erin', PASSWORD);
    totp = /data-totp-secret="([A-Z2-7]+)"/.exec(enroll.body)![1]!;
    const codes = await start.browser.request(new URL(formAction(enroll.body, 'enroll')!, h.origin), { form: { csrf: inputValue(enroll.body, 'csrf')!, code: await generate({ secret: totp }) } });
    recovery = [...codes.body.matchAll(/data-recovery-code>([^<]+)</g)].map((m) => m[1]!);
    await followToCallback(h, start, (await start.browser.request(new URL(formAction(codes.body, 'continue')!, h.origin), { form: { csrf: inputValue(codes.body, 'csrf')! } })).location);
    // Forget the enrollment's time step, so that the current code is a valid, unused one.
    await new IdentityUsersRepo(h.store.db).update(erinId, { totpLastStep: undefined });
  });
  after(() => h?.close());

  it('a client address blocked after the password step cannot submit TOTP or recovery codes: refused with 429 "Too many attempts", no session issued', async () => {
    const s = await startAuth(h, cfg);
    const mfa = await submitLogin(h, s, 'erin', PASSWORD);
    assert.equal(mfa.status, 200, 'password accepted, second factor due');
    assert.ok(formAction(mfa.body, 'mfa'), 'the MFA page');

    // Meanwhile the same client guesses passwords elsewhere until its address is blocked.
    for (let i = 0; i < 3; i++) assert.equal((await submitLogin(h, await startAuth(h, cfg), 'bob', `wrong guess ${i}`)).status, 401);
    assert.ok(h.events.some((e) => e.name === 'identity.address.blocked'), 'the address is blocked');
    const succeededBefore = h.events.filter((e) => e.name === 'identity.login.succeeded').length;

    const submit = (form: Record<string, string>) => s.browser.request(new URL(formAction(mfa.body, 'mfa')!, h.origin), { form: { csrf: inputValue(mfa.body, 'csrf')!, ...form } });
    for (const r of [await submit({ code: await generate({ secret: totp }) }), await submit({ recovery_code: recovery[0]! })]) {
      assert.equal(r.status, 429);
      assert.match(r.body, /Too many attempts/);
      assert.equal(r.location, undefined, 'no redirect back to the client');
      assert.equal(r.headers.getSetCookie().some((c) => c.startsWith(`${IDP_COOKIE_NAMES.session}=`) && !/expires=thu, 01 jan 1970/i.test(c)), false, 'no session cookie');
    }
    assert.equal(s.browser.cookies.has(IDP_COOKIE_NAMES.session), false, 'no IdP session in the browser');
    assert.equal(h.events.filter((e) => e.name === 'identity.login.succeeded').length, succeededBefore, 'no sign-in succeeded');
    assert.ok(h.events.some((e) => e.name === 'identity.login.failed' && e.payload.subject === erinId && e.payload.reason === 'address_blocked'), 'audited as the password step audits a blocked address');
    assert.equal(h.events.some((e) => e.name === 'identity.mfa.verified' && e.payload.subject === erinId && h.events.indexOf(e) > h.events.findIndex((x) => x.name === 'identity.address.blocked')), false, 'no code was even checked');
  });
});

describe('sign-in through a composed gateway: second factor from an address detection blocked', () => {
  let idp: IdpGateway;
  let cfg: oidc.Configuration;
  let secret = '';

  before(async () => {
    idp = await startIdpGateway({ identity: { mfa: { required: true, recoveryCodes: 4 } } });
    const user = await idp.accounts.addUser({ username: 'frank', password: PASSWORD });
    const app = await idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    cfg = await rpConfig(idp, 'webapp', app.secret!);
    // Enrol, then forget the enrollment's time step, so that the current code is a valid, unused one.
    const start = await startAuth(idp, cfg);
    const enroll = await submitLogin(idp, start, 'frank', PASSWORD);
    const totp = /data-totp-secret="([A-Z2-7]+)"/.exec(enroll.body)![1]!;
    const codes = await start.browser.request(new URL(formAction(enroll.body, 'enroll')!, idp.origin), { form: { csrf: inputValue(enroll.body, 'csrf')!, code: await generate({ secret: totp }) } });
    await followToCallback(idp, start, (await start.browser.request(new URL(formAction(codes.body, 'continue')!, idp.origin), { form: { csrf: inputValue(codes.body, 'csrf')! } })).location);
    await new IdentityUsersRepo(idp.store.db).update(user.id, { totpLastStep: undefined });
    secret = totp;
  });
  after(() => idp?.close());

  it('a client address blocked by detection after the password step cannot submit a TOTP code: 403 ERR_SHIELD_BLOCKED, no session issued', async () => {
    const s = await startAuth(idp, cfg);
    const mfa = await submitLogin(idp, s, 'frank', PASSWORD);
    assert.ok(formAction(mfa.body, 'mfa'), 'the MFA page');
    const block = await addBlock(idp.store, undefined, { kind: 'address', value: '127.0.0.1', reason: 'test', durationMs: 60_000, createdBy: 'admin:test' });
    (idp.gw.gateway.extensions.find((e) => e.name === 'detect') as DetectExtension).blockCheck.add(block);
    const r = await s.browser.request(new URL(formAction(mfa.body, 'mfa')!, idp.origin), { form: { csrf: inputValue(mfa.body, 'csrf')!, code: await generate({ secret }) } });
    assert.equal(r.status, 403, r.body.slice(0, 200));
    assert.match(r.body, /ERR_SHIELD_BLOCKED/);
    assert.equal(r.location, undefined);
    assert.equal(s.browser.cookies.has(IDP_COOKIE_NAMES.session), false, 'no IdP session');
  });
});
