/**
 * Guessing the credentials that are not passwords, through a real, fully composed Gatehouse
 * (IdP, authentication, detection, block stages), each from one client address: a service
 * client's secret at the token endpoint, API tokens (`Bearer ghs_…`) and forged JWTs at a route.
 * Before, none of these refusals counted for any rule (a 401 without a subject is nobody's
 * denial): a guesser was held back by the edge rate limit alone, 100 guesses a second, for ever.
 * Now `credentialGuessing` counts the distinct credentials an address presents and blocks it at
 * 20 (the default). A client retrying one dead credential is one credential, and is left alone.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { identityProviderOf } from '../../src/gateway/extensions/identity.ts';
import { clientAdd } from '../../src/identity/commands/client.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import { createDetectRepo } from '../../src/store/repos/detect-repo.ts';
import type { Store } from '../../src/store/types.ts';
import { serviceToken } from '../support/service-token.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
const guess = () => randomBytes(32).toString('base64url');

describe('guessing credentials other than passwords, from one address', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;
  let store: Store;
  let validJwt: string;

  before(async () => {
    upstream = await startUpstream();
    // Each case is another client behind the trusted proxy (loopback): its own counts and blocks.
    gw = await startGateway({
      trustedProxies: ['127.0.0.1/32'],
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'authenticated', authentication: { methods: ['api_token', 'jwt'] } }],
    }, { compose: true });
    store = await openStoreFromConfig(gw.gateway.config);
    await clientAdd(identityProviderOf(gw.gateway.extensions)!, { clientId: 'reports', kind: 'service', name: 'reports' });
    validJwt = await serviceToken(gw, 'svc-probe');
  });
  after(async () => { await store?.close(); await gw?.close(); await upstream?.close(); });

  const tokenRequest = (from: string, basic: string) => gw.fetch('/oidc/token', {
    method: 'POST',
    headers: { 'x-forwarded-for': from, 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(basic).toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  const appRequest = (from: string, authorization: string) => gw.fetch('/app/items', { headers: { 'x-forwarded-for': from, authorization } });

  async function guessingAlertsOn(address: string) {
    await settle(300);
    return (await createDetectRepo(store.db).listAlerts({ limit: 50 })).filter((a) => a.rule === 'credential_guessing' && a.key === address);
  }

  it('client-secret guessing at the token endpoint: the address is alerted on and blocked after 20 distinct secrets', async () => {
    const from = '198.51.100.1';
    for (let i = 0; i < 20; i++) {
      const res = await tokenRequest(from, `reports:ghcs_${guess()}`);
      assert.equal(res.status, 401, res.body);
      assert.match(res.body, /invalid_client/);
    }
    assert.equal((await guessingAlertsOn(from)).length, 1, 'one alert for the guessing address');
    const next = await tokenRequest(from, `reports:ghcs_${guess()}`);
    assert.equal(next.status, 403, 'the guessing address is blocked');
    assert.match(next.body, /ERR_SHIELD_BLOCKED/);
  });

  it('API token guessing (Bearer ghs_…) at a route: the address is alerted on and blocked after 20 distinct tokens', async () => {
    const from = '198.51.100.2';
    for (let i = 0; i < 20; i++) {
      const res = await appRequest(from, `Bearer ghs_${guess()}`);
      assert.equal(res.status, 401, res.body);
      assert.match(res.body, /ERR_AUTHN_API_TOKEN_INVALID/);
    }
    assert.equal((await guessingAlertsOn(from)).length, 1, 'one alert for the guessing address');
    const blocked = await appRequest(from, `Bearer ${validJwt}`);
    assert.equal(blocked.status, 403, 'the guessing address is blocked, also with a valid credential');
  });

  it('JWTs with forged signatures at a route: counted like unknown API tokens', async () => {
    const [header, payload] = validJwt.split('.');
    assert.equal(decodeJwt(validJwt).sub, 'svc-probe');
    const from = '2001:db8:7:1::1';
    for (let i = 0; i < 20; i++) {
      // A new address of its /64 for every attempt: still one client.
      const res = await appRequest(`2001:db8:7:1::${(i + 1).toString(16)}`, `Bearer ${header}.${payload}.${guess()}${guess()}`);
      assert.equal(res.status, 401, res.body);
      assert.match(res.body, /ERR_AUTHN_TOKEN_SIGNATURE/);
    }
    assert.equal((await guessingAlertsOn('2001:db8:7:1::/64')).length, 1, 'one alert for the /64');
    assert.equal((await appRequest(from, `Bearer ${validJwt}`)).status, 403, 'the forging /64 is blocked');
  });

  it('one dead API token and one wrong client secret retried 40 times each: one credential each, nothing blocked', async () => {
    const deadToken = `Bearer ghs_${guess()}`;
    const wrongSecret = `reports:ghcs_${guess()}`;
    const from = '198.51.100.4';
    for (let i = 0; i < 40; i++) {
      assert.equal((await appRequest(from, deadToken)).status, 401);
      assert.equal((await tokenRequest(from, wrongSecret)).status, 401);
    }
    assert.deepEqual(await guessingAlertsOn(from), []);
    assert.equal((await appRequest(from, `Bearer ${validJwt}`)).status, 200, 'a misconfigured client is not taken for a guesser');
  });
});
