/**
 * Enabling TOTP is a compare-and-set on the pending secret: of two sign-ins confirming an
 * enrollment at the same moment only one stores its key, and an enrollment begun before an
 * administrator reset the account cannot store its key after the reset. Otherwise the account
 * could end up with a second factor the user never confirmed (or the attacker's).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from 'otplib';
import type * as oidc from 'openid-client';
import { startHarness, type Backend, type Harness } from './support/harness.ts';
import { PASSWORD, REDIRECT, rpConfig, startAuth, submitLogin, type AuthStart } from './support/flows.ts';
import { formAction, inputValue } from './support/browser.ts';

for (const backend of ['sqlite', 'postgres'] as Backend[]) describe(`TOTP enable is conditional (${backend})`, () => {
  let h: Harness;
  let config: oidc.Configuration;

  before(async () => {
    h = await startHarness(backend, { mfa: { required: true, recoveryCodes: 4 } });
    await h.idp.accounts.addUser({ username: 'dana', password: PASSWORD });
    await h.idp.accounts.addUser({ username: 'eli', password: PASSWORD });
    await h.idp.accounts.addUser({ username: 'finn', password: PASSWORD });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(() => h?.close());

  /** Signs in with the password up to the enrollment page; returns the page's key. */
  async function toEnrollment(username: string, password = PASSWORD): Promise<{ start: AuthStart; page: string; secret: string }> {
    const start = await startAuth(h, config);
    const page = (await submitLogin(h, start, username, password)).body;
    return { start, page, secret: /data-totp-secret="([A-Z2-7]+)"/.exec(page)![1]! };
  }
  // Confirmed with the previous time step's code (accepted drift), so that the current step's
  // code is not a replay at the next sign-in. That code is good for one more step only: made in the
  // last seconds of a step, it could be checked in the next one on a loaded machine, two steps late
  // (a CI run got 401 for one of the two racing confirmations), so those seconds are waited out.
  const confirm = async (e: { start: AuthStart; page: string; secret: string }) => {
    const into = (Date.now() / 1000) % 30;
    if (into > 25) await new Promise((r) => setTimeout(r, (30 - into) * 1000 + 50));
    return e.start.browser.request(new URL(formAction(e.page, 'enroll')!, h.origin), { form: { csrf: inputValue(e.page, 'csrf')!, code: await generate({ secret: e.secret, epoch: Math.floor(Date.now() / 1000) - 30 }) } });
  };

  const nextSecond = () => new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));

  /** Status of the second-factor step of a fresh sign-in with a code from `secret`. */
  async function mfaWith(username: string, secret: string, password = PASSWORD): Promise<number> {
    const start = await startAuth(h, config);
    const mfa = await submitLogin(h, start, username, password);
    assert.match(mfa.body, /action="[^"]*\/mfa"/, 'the account asks for its second factor');
    return (await start.browser.request(new URL(formAction(mfa.body, 'mfa')!, h.origin), { form: { csrf: inputValue(mfa.body, 'csrf')!, code: await generate({ secret }) } })).status;
  }

  it('of two sign-ins confirming an enrollment at the same moment, exactly one stores its key, and it is the one whose page showed recovery codes', async () => {
    const a = await toEnrollment('dana');
    const b = await toEnrollment('dana');
    const [ra, rb] = await Promise.all([confirm(a), confirm(b)]);
    const won = [ra, rb].filter((r) => r.status === 200 && /data-recovery-code/.test(r.body));
    assert.equal(won.length, 1, `statuses ${ra.status} ${rb.status}`);
    const [winner, loser] = ra.status === 200 ? [a, b] : [b, a];
    assert.equal((ra.status === 200 ? rb : ra).status, 400);
    assert.equal(await mfaWith('dana', winner.secret), 303);
    assert.equal(await mfaWith('dana', loser.secret), 401);
  });

  it('refuses to store the key of an enrollment begun before an administrator reset the password and MFA', async () => {
    const stale = await toEnrollment('eli');
    await h.idp.accounts.setPassword('eli', `${PASSWORD} renewed`);
    await h.idp.accounts.resetMfa('eli');
    const late = await confirm(stale);
    assert.equal(late.status, 400);
    assert.doesNotMatch(late.body, /data-recovery-code/);
    assert.equal((await h.idp.accounts.findUser('eli'))?.totpEnabled, false);
    // The user enrolls afresh with the new password (a second later: a sign-in in the second of a reset counts as before it).
    await nextSecond();
    const fresh = await toEnrollment('eli', `${PASSWORD} renewed`);
    assert.equal((await confirm(fresh)).status, 200);
    assert.equal(await mfaWith('eli', fresh.secret, `${PASSWORD} renewed`), 303);
  });

  it('refuses the second-factor steps of a sign-in whose password step was passed before an administrator reset the password (enrollment, then the code)', async () => {
    const stale = await toEnrollment('finn');
    await h.idp.accounts.setPassword('finn', `${PASSWORD} renewed`);
    const late = await confirm(stale);
    assert.equal(late.status, 400);
    assert.equal((await h.idp.accounts.findUser('finn'))?.totpEnabled, false);

    // Enrolled afresh; a sign-in at its code step when the password is reset again.
    await nextSecond();
    const fresh = await toEnrollment('finn', `${PASSWORD} renewed`);
    assert.equal((await confirm(fresh)).status, 200);
    const start = await startAuth(h, config);
    const mfa = await submitLogin(h, start, 'finn', `${PASSWORD} renewed`);
    assert.match(mfa.body, /action="[^"]*\/mfa"/);
    await h.idp.accounts.setPassword('finn', `${PASSWORD} renewed twice`);
    const code = await start.browser.request(new URL(formAction(mfa.body, 'mfa')!, h.origin), { form: { csrf: inputValue(mfa.body, 'csrf')!, code: await generate({ secret: fresh.secret }) } });
    assert.equal(code.status, 400);
    assert.equal(code.location, undefined);
  });
});
