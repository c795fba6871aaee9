/**
 * identity.mfa.requiredForRoles: users holding one of the roles enrol TOTP at an ordinary
 * sign-in (as `mfa.required` makes every user do), others sign in with the password alone.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as oidc from 'openid-client';
import { formAction, inputValue } from './support/browser.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { followToCallback, PASSWORD, REDIRECT, rpConfig, startAuth, submitLogin } from './support/flows.ts';

describe('identity.mfa.requiredForRoles', () => {
  let h: Harness;
  let config: oidc.Configuration;

  before(async () => {
    h = await startHarness('sqlite', { mfa: { requiredForRoles: ['approver'], recoveryCodes: 4 } });
    await h.idp.accounts.addUser({ username: 'ann', password: PASSWORD, roles: ['staff', 'approver'] });
    await h.idp.accounts.addUser({ username: 'sam', password: PASSWORD, roles: ['staff'] });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(async () => { await h?.close(); });

  it('asks a user holding a listed role to enrol TOTP at an ordinary sign-in (no step-up asked)', async () => {
    const start = await startAuth(h, config);
    const page = await submitLogin(h, start, 'ann', PASSWORD);
    assert.equal(page.status, 200, page.body.slice(0, 300));
    assert.match(page.body, /data-totp-secret="[A-Z2-7]+"/, 'the enrolment page');
    assert.ok(formAction(page.body, 'enroll'));
    assert.ok(inputValue(page.body, 'csrf'));
  });

  it('signs a user without a listed role in with the password alone', async () => {
    const start = await startAuth(h, config);
    const done = await submitLogin(h, start, 'sam', PASSWORD);
    assert.equal(done.status, 303, done.body.slice(0, 300));
    assert.ok((await followToCallback(h, start, done.location)).searchParams.get('code'));
  });

  it('refuses a malformed role name in the list by path', async () => {
    const { parseConfig, ConfigError } = await import('../../src/core/config/load.ts');
    assert.throws(() => parseConfig({ identity: { mfa: { requiredForRoles: ['no spaces'] } } }, { env: { NODE_ENV: 'test' } }),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.path.join('.') === 'identity.mfa.requiredForRoles.0'));
  });
});
