/**
 * A refused renewal (`POST <apiPath>/renew`) is audited with the address it came from, as a
 * refused bootstrap token is. Before, `pki.certificate.refused` for a renewal named no client
 * address: an operator could see that someone tried to renew without (or with a revoked)
 * certificate, but not from where. Real composed Gatehouse (CA, audit) on SQLite, real HTTPS.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { queryAudit } from '../../src/audit/query.ts';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import { startIdpGateway, TRUST_DOMAIN, type IdpGateway } from '../identity/support/gateway-idp.ts';

const API = '/.well-known/gatehouse/pki';

describe('refused renewals at the CA', () => {
  let idp: IdpGateway;

  before(async () => { idp = await startIdpGateway({ trustedProxies: ['127.0.0.1/32'] }); });
  after(() => idp?.close());

  it('a renewal without a current certificate is refused (401 ERR_PKI_RENEWAL_UNAUTHORIZED) and its audit record names the client address', async () => {
    const from = '198.51.100.77';
    const { csrPem } = await generateKeyAndCsr(`spiffe://${TRUST_DOMAIN}/svc/renewer`);
    const res = await idp.fetch(`${idp.origin}${API}/renew`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': from }, body: JSON.stringify({ csr: csrPem }) });
    const body = await res.json() as Record<string, unknown>;
    assert.equal(res.status, 401, JSON.stringify(body));
    assert.equal(body.error, 'ERR_PKI_RENEWAL_UNAUTHORIZED');

    let found: { clientAddress: string | null; details: string } | undefined;
    for (const deadline = Date.now() + 5_000; found === undefined && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      for await (const r of queryAudit(idp.store, { action: 'pki.certificate.refused' })) if (r.details.includes('ERR_PKI_RENEWAL_UNAUTHORIZED')) found = r;
    }
    assert.ok(found, 'the refusal is audited');
    assert.equal(found.clientAddress, from);
  });
});
