/**
 * Spreading password guesses for one account over spellings of its name, so that each spelling
 * stays below the lock: upper case, a Kelvin sign (U+212A, which lower-cases to an ASCII `k`),
 * spaces around the name, the account's e-mail in upper case. Every spelling that signs in to the
 * account must count towards its one lock; a spelling that is another name (fullwidth letters,
 * not folded) must not sign in to the account at all.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { startHarness, type Harness } from './support/harness.ts';
import { PASSWORD, REDIRECT, rpConfig, startAuth, submitLogin } from './support/flows.ts';

describe('password guesses spread over spellings of one account name', () => {
  let h: Harness;
  let config: oidc.Configuration;

  before(async () => {
    h = await startHarness('sqlite', { login: { delayAfterFailures: 10, lockAfterFailures: 4, lockSeconds: 60, addressLockAfterFailures: 100, maxDelayMs: 0 } });
    await h.idp.accounts.addUser({ username: 'kate', email: 'Kate@Example.com', password: PASSWORD });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(() => h?.close());

  it('four wrong guesses as "KATE", "\\u212Aate", "  Kate  " and "KATE@EXAMPLE.COM" lock the one account: the right password is then refused (429)', async () => {
    for (const spelling of ['KATE', '\u212Aate', '  Kate  ', 'KATE@EXAMPLE.COM']) {
      const r = await submitLogin(h, await startAuth(h, config), spelling, 'wrong password guess');
      assert.ok([401, 429].includes(r.status), `${JSON.stringify(spelling)}: ${r.status}`);
    }
    const subjects = new Set(h.events.filter((e) => e.name === 'identity.login.failed' && e.payload.reason === 'bad_credentials').map((e) => e.payload.subject));
    assert.equal(subjects.size, 1, 'every spelling was counted against the one account');
    assert.ok(h.events.some((e) => e.name === 'identity.account.locked'), 'the account is locked');
    assert.equal((await submitLogin(h, await startAuth(h, config), 'kate', PASSWORD)).status, 429, 'the right password is refused while locked');
    await h.idp.accounts.unlockUser('kate');
  });

  it('a fullwidth spelling ("ｋａｔｅ") is another name: the right password does not sign in to the account', async () => {
    const r = await submitLogin(h, await startAuth(h, config), 'ｋａｔｅ', PASSWORD);
    assert.equal(r.status, 401);
    assert.ok(!h.events.some((e) => e.name === 'identity.login.succeeded'));
  });
});
