/**
 * TOTP enrollment at sign-in (identity.mfa.required) when two sign-ins of one account are at
 * the enrollment step at once — the user and someone who has the password. Whoever finishes
 * second must not replace the second factor the first one just set up.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from 'otplib';
import type * as oidc from 'openid-client';
import { startHarness, type Harness } from './support/harness.ts';
import { followToCallback, PASSWORD, REDIRECT, rpConfig, startAuth, submitLogin } from './support/flows.ts';
import { formAction, inputValue } from './support/browser.ts';

describe('MFA enrollment race', () => {
  let h: Harness;
  let config: oidc.Configuration;

  before(async () => {
    h = await startHarness('sqlite', { mfa: { required: true, recoveryCodes: 4 } });
    await h.idp.accounts.addUser({ username: 'carol', password: PASSWORD });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(() => h?.close());

  it('refuses to finish an enrollment started before the account enrolled in another sign-in (the second factor is not replaced)', async () => {
    const attacker = await startAuth(h, config);
    const attackerPage = await submitLogin(h, attacker, 'carol', PASSWORD);
    const attackerSecret = /data-totp-secret="([A-Z2-7]+)"/.exec(attackerPage.body)![1]!;

    const user = await startAuth(h, config);
    const userPage = await submitLogin(h, user, 'carol', PASSWORD);
    const userSecret = /data-totp-secret="([A-Z2-7]+)"/.exec(userPage.body)![1]!;
    const codes = await user.browser.request(new URL(formAction(userPage.body, 'enroll')!, h.origin), { form: { csrf: inputValue(userPage.body, 'csrf')!, code: await generate({ secret: userSecret }) } });
    assert.equal(codes.status, 200);
    await followToCallback(h, user, (await user.browser.request(new URL(formAction(codes.body, 'continue')!, h.origin), { form: { csrf: inputValue(codes.body, 'csrf')! } })).location);

    const late = await attacker.browser.request(new URL(formAction(attackerPage.body, 'enroll')!, h.origin), { form: { csrf: inputValue(attackerPage.body, 'csrf')!, code: await generate({ secret: attackerSecret }) } });
    assert.equal(late.status, 400);
    assert.doesNotMatch(late.body, /data-recovery-code/);

    // The user's authenticator still signs in; the other one does not.
    const next = await startAuth(h, config);
    const mfa = await submitLogin(h, next, 'carol', PASSWORD);
    assert.match(mfa.body, /action="[^"]*\/mfa"/);
    const wrong = await next.browser.request(new URL(formAction(mfa.body, 'mfa')!, h.origin), { form: { csrf: inputValue(mfa.body, 'csrf')!, code: await generate({ secret: attackerSecret }) } });
    assert.equal(wrong.status, 401);
  });
});
