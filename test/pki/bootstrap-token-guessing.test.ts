/**
 * Guessing bootstrap tokens at the CA's issuance endpoint (`POST <apiPath>/issue`) from one
 * address. Its refusals (`pki.certificate.refused`, ERR_PKI_BOOTSTRAP_TOKEN_INVALID) named no client
 * address, so `credentialGuessing` could not count them: a client could try tokens at the edge rate
 * limit for ever. Now the refusal carries the client address (after trusted proxies) and the
 * token's digest, and 20 distinct tokens from one address alert on it and block it. A workload
 * retrying its one spent token is one credential. Real composed Gatehouse (CA, detection, audit)
 * on SQLite, real HTTPS requests to the running CA endpoint.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { queryAudit } from '../../src/audit/query.ts';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import { createDetectRepo } from '../../src/store/repos/detect-repo.ts';
import { startIdpGateway, TRUST_DOMAIN, type IdpGateway } from '../identity/support/gateway-idp.ts';

const API = '/.well-known/gatehouse/pki';
const ID = `spiffe://${TRUST_DOMAIN}/svc/guessed`;
/** A token of the bootstrap token's format (`gbt_<id>_<secret>`) that the CA never created. */
const guess = () => `gbt_${randomBytes(12).toString('base64url').replace(/^-/, 'a')}_${randomBytes(32).toString('base64url')}`;

describe('guessing bootstrap tokens at the CA', () => {
  let idp: IdpGateway;
  let csr: string;

  before(async () => {
    idp = await startIdpGateway({ trustedProxies: ['127.0.0.1/32'] });
    csr = (await generateKeyAndCsr(ID)).csrPem;
  });
  after(() => idp?.close());

  async function issue(from: string, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await idp.fetch(`${idp.origin}${API}/issue`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': from }, body: JSON.stringify({ csr, token }) });
    return { status: res.status, body: await res.json() as Record<string, unknown> };
  }
  async function guessingAlertsOn(address: string) {
    let alerts: { key: string }[] = [];
    for (const deadline = Date.now() + 5_000; alerts.length === 0 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      alerts = (await createDetectRepo(idp.store.db).listAlerts({ limit: 50 })).filter((a) => a.rule === 'credential_guessing' && a.key === address);
    }
    return alerts;
  }

  it('20 guessed bootstrap tokens from one address: each refusal is audited with the client address, the address is alerted on and blocked (403 ERR_SHIELD_BLOCKED at the CA)', async () => {
    const from = '198.51.100.41';
    for (let i = 0; i < 20; i++) {
      const res = await issue(from, guess());
      assert.equal(res.status, 401, JSON.stringify(res.body));
      assert.equal(res.body.error, 'ERR_PKI_BOOTSTRAP_TOKEN_INVALID');
    }
    assert.equal((await guessingAlertsOn(from)).length, 1, 'one alert for the guessing address');
    const next = await issue(from, guess());
    assert.equal(next.status, 403, JSON.stringify(next.body));
    assert.match(JSON.stringify(next.body), /ERR_SHIELD_BLOCKED/);

    let refusals = 0;
    for (const deadline = Date.now() + 5_000; refusals < 20 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      refusals = 0;
      for await (const r of queryAudit(idp.store, { action: 'pki.certificate.refused' })) if (r.clientAddress === from) refusals += 1;
    }
    assert.equal(refusals, 20, 'every refusal names the address that presented the token');
  });

  it('a workload retrying its one spent token 40 times is one credential: nothing blocked, and a real token still works from that address', async () => {
    const from = '198.51.100.42';
    const ca = await idp.ca();
    const { token } = await ca.createBootstrapToken({ spiffeId: ID });
    assert.equal((await issue(from, token)).status, 201);
    for (let i = 0; i < 40; i++) assert.equal((await issue(from, token)).status, 401, 'spent');
    assert.deepEqual(await guessingAlertsOn(from), []);
    const fresh = await ca.createBootstrapToken({ spiffeId: ID });
    assert.equal((await issue(from, fresh.token)).status, 201, 'not blocked');
  });
});
