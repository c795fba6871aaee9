/**
 * Guessing (or replaying a leaked list of) gateway session cookies from one address. A cookie
 * that no session answers to is refused with ERR_AUTHN_SESSION_INVALID, but its refusal carried
 * no `refusedCredential`, so `credentialGuessing` never counted it: a client could present forged
 * session cookies at the edge rate limit for ever. Now it counts like an unknown API token, by
 * digest (never the value), also when it is dressed as a browser navigation (answered with the
 * login redirect instead of 401). A browser sending its one dead cookie again is one credential.
 * Real composed Gatehouse (IdP, sessions, detection, block stages), real requests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SESSION_COOKIE } from '../../src/authn/session/cookies.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import { createDetectRepo } from '../../src/store/repos/detect-repo.ts';
import type { Store } from '../../src/store/types.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A value of the session cookie's shape (32 random bytes, base64url), which no session has. */
const forged = () => randomBytes(32).toString('base64url');

describe('guessing session cookies, from one address', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;
  let store: Store;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({
      trustedProxies: ['127.0.0.1/32'],
      upstreams: { app: { url: upstream.url } },
      routes: [
        { id: 'app', path: '/app', upstream: 'app', access: 'authenticated', authentication: { methods: ['session'] } },
        { id: 'web', path: '/web', upstream: 'app', access: 'authenticated', authentication: { methods: ['session'], browserLogin: true } },
      ],
    }, { compose: true });
    store = await openStoreFromConfig(gw.gateway.config);
  });
  after(async () => { await store?.close(); await gw?.close(); await upstream?.close(); });

  const withCookie = (path: string, from: string, value: string, headers: Record<string, string> = {}) =>
    gw.fetch(path, { headers: { 'x-forwarded-for': from, cookie: `${SESSION_COOKIE}=${value}`, ...headers } });
  async function guessingAlertsOn(address: string) {
    await settle(300);
    return (await createDetectRepo(store.db).listAlerts({ limit: 50 })).filter((a) => a.rule === 'credential_guessing' && a.key === address);
  }

  it('20 forged session cookies from one address: the address is alerted on and blocked', async () => {
    const from = '198.51.100.31';
    for (let i = 0; i < 20; i++) {
      const res = await withCookie('/app/x', from, forged());
      assert.equal(res.status, 401, res.body);
      assert.match(res.body, /ERR_AUTHN_SESSION_INVALID/);
    }
    assert.equal((await guessingAlertsOn(from)).length, 1, 'one alert for the guessing address');
    const next = await withCookie('/app/x', from, forged());
    assert.equal(next.status, 403);
    assert.match(next.body, /ERR_SHIELD_BLOCKED/);
  });

  it('forged cookies dressed as browser navigations (answered with the login redirect, not 401) count all the same', async () => {
    const from = '198.51.100.32';
    const navigation = { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };
    for (let i = 0; i < 20; i++) {
      const res = await withCookie('/web/x', from, forged(), navigation);
      assert.equal(res.status, 302, res.body);
    }
    assert.equal((await guessingAlertsOn(from)).length, 1);
  });

  it('malformed session cookies (not of the session cookie\'s shape) count too', async () => {
    const from = '198.51.100.33';
    for (let i = 0; i < 20; i++) assert.equal((await withCookie('/app/x', from, `x${forged()}!`)).status, 401);
    assert.equal((await guessingAlertsOn(from)).length, 1);
  });

  it('one ended session\'s cookie sent 40 times (a browser after its session ended): one credential, nothing blocked', async () => {
    const from = '198.51.100.34';
    const dead = forged();
    for (let i = 0; i < 40; i++) assert.equal((await withCookie('/app/x', from, dead)).status, 401);
    assert.deepEqual(await guessingAlertsOn(from), []);
    assert.equal((await withCookie('/app/x', from, dead)).status, 401, 'refused as before, not blocked');
  });
});
