/**
 * Account enumeration through the sign-in page: a user name that does not exist must answer
 * repeated wrong passwords exactly like an account does — same status, same message, the
 * same progressive delay and the same lock — or counting failures tells which names exist.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as oidc from 'openid-client';
import { startHarness, type Harness } from './support/harness.ts';
import { PASSWORD, REDIRECT, rpConfig, startAuth, submitLogin } from './support/flows.ts';

const LOGIN = { delayAfterFailures: 2, lockAfterFailures: 4, lockSeconds: 60, maxDelayMs: 1000, addressLockAfterFailures: 1000 };

describe('sign-in: no account enumeration by repeated failures', () => {
  let h: Harness;
  let config: oidc.Configuration;

  before(async () => {
    h = await startHarness('sqlite', { login: LOGIN });
    await h.idp.accounts.addUser({ username: 'victim', password: PASSWORD });
    await h.idp.accounts.addUser({ username: 'victim2', password: PASSWORD });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(() => h?.close());

  /** Five wrong passwords for `username`: status, alert message and duration of each. */
  async function guess(username: string) {
    const out: { status: number; message: string | undefined; ms: number }[] = [];
    for (let i = 0; i < 5; i++) {
      const start = await startAuth(h, config);
      const t0 = performance.now();
      const r = await submitLogin(h, start, username, `wrong password guess ${i}`);
      out.push({ status: r.status, message: /role="alert">([^<]*)</.exec(r.body)?.[1], ms: performance.now() - t0 });
    }
    return out;
  }

  it('locks a user name that does not exist after lockAfterFailures wrong passwords, with the same statuses and messages as an account', async () => {
    const known = await guess('victim');
    const unknown = await guess('nobody-by-this-name');
    assert.deepEqual(known.map((a) => a.status), [401, 401, 401, 429, 429], 'precondition: the account locks at the 4th failure');
    assert.deepEqual(unknown.map((a) => [a.status, a.message]), known.map((a) => [a.status, a.message]));
  });

  it('delays the attempts on a user name that does not exist like those on an account once delayAfterFailures is reached (no timing oracle)', async () => {
    const known = await guess('victim2');
    const unknown = await guess('nobody-else');
    // Attempts 3 and 4 wait 250 and 500 ms on an account.
    assert.ok(known[2]!.ms >= 240 && known[3]!.ms >= 490, `precondition: ${known.map((a) => Math.round(a.ms))}`);
    assert.ok(unknown[2]!.ms >= 240, `3rd attempt on an unknown name took ${Math.round(unknown[2]!.ms)} ms`);
    assert.ok(unknown[3]!.ms >= 490, `4th attempt on an unknown name took ${Math.round(unknown[3]!.ms)} ms`);
  });
});
