/**
 * Guessing in parallel bursts. The account lock is checked when an attempt begins and counted
 * when it has failed: attempts sent all at once each read "not locked" before any failure
 * was counted, so a burst had every guess in it checked, however far past lockAfterFailures.
 * Now at most lockAfterFailures guesses of a burst on one instance are checked; the others
 * are refused as locked without being checked.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from 'otplib';
import type * as oidc from 'openid-client';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { followToCallback, PASSWORD, REDIRECT, rpConfig, startAuth, submitLogin } from './support/flows.ts';
import { formAction, inputValue } from './support/browser.ts';

const LOCK_AFTER = 3;
const BURST = 24;

describe('parallel guessing bursts', () => {
  let h: Harness;
  let config: oidc.Configuration;

  before(async () => {
    h = await startHarness('sqlite', { mfa: { required: true, recoveryCodes: 4 }, login: { delayAfterFailures: 100, lockAfterFailures: LOCK_AFTER, lockSeconds: 600, maxDelayMs: 0, addressLockAfterFailures: 100_000 } });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(() => h?.close());

  it('a burst of parallel wrong passwords for one account gets at most lockAfterFailures of them checked; the rest are refused as locked (429)', async () => {
    const frank = await h.idp.accounts.addUser({ username: 'frank', password: PASSWORD });
    const starts = await Promise.all(Array.from({ length: BURST }, () => startAuth(h, config)));
    const answers = await Promise.all(starts.map((s, i) => submitLogin(h, s, 'frank', `wrong password number ${i}`)));
    const checked = h.events.filter((e) => e.name === 'identity.login.failed' && e.payload.subject === frank.id && e.payload.reason === 'bad_credentials');
    assert.ok(checked.length <= LOCK_AFTER, `${checked.length} of ${BURST} parallel guesses were checked`);
    assert.equal(answers.filter((a) => a.status === 429).length, BURST - checked.length + 1);
  });

  it('a burst of parallel wrong TOTP codes gets at most lockAfterFailures of them checked; the rest are refused as locked (429)', async () => {
    const gail = await h.idp.accounts.addUser({ username: 'gail', password: PASSWORD });
    const start = await startAuth(h, config);
    const enroll = await submitLogin(h, start, 'gail', PASSWORD);
    const totp = /data-totp-secret="([A-Z2-7]+)"/.exec(enroll.body)![1]!;
    const codes = await start.browser.request(new URL(formAction(enroll.body, 'enroll')!, h.origin), { form: { csrf: inputValue(enroll.body, 'csrf')!, code: await generate({ secret: totp }) } });
    await followToCallback(h, start, (await start.browser.request(new URL(formAction(codes.body, 'continue')!, h.origin), { form: { csrf: inputValue(codes.body, 'csrf')! } })).location);
    await new IdentityUsersRepo(h.store.db).update(gail.id, { totpLastStep: undefined });
    const valid = new Set([await generate({ secret: totp }), await generate({ secret: totp, epoch: Math.floor(Date.now() / 1000) - 30 })]);
    const wrong = Array.from({ length: BURST + 2 }, (_, i) => String(100000 + i * 37)).filter((c) => !valid.has(c)).slice(0, BURST);

    const attacker = await startAuth(h, config);
    const mfa = await submitLogin(h, attacker, 'gail', PASSWORD);
    assert.equal(mfa.status, 200);
    const action = new URL(formAction(mfa.body, 'mfa')!, h.origin);
    const csrf = inputValue(mfa.body, 'csrf')!;
    const answers = await Promise.all(wrong.map((code) => attacker.browser.request(action, { form: { csrf, code } })));
    const checked = h.events.filter((e) => e.name === 'identity.mfa.failed' && e.payload.subject === gail.id && e.payload.reason === 'invalid');
    assert.ok(checked.length <= LOCK_AFTER, `${checked.length} of ${BURST} parallel codes were checked`);
    assert.equal(answers.filter((a) => a.status === 429).length, BURST - checked.length + 1);
  });
});
