/**
 * Trust material a workload downloads is verified before it replaces what is in force:
 * a replayed older CRL (which would un-revoke certificates), a CRL signed by another CA,
 * a missing root CRL, another trust domain and an expired CRL are all refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PkiApiClient, type TrustAnswer } from '../../src/pki/client/pki-api-client.ts';
import { buildVerifiedTrust } from '../../src/pki/client/verified-trust.ts';
import { crlToPem } from '../../src/pki/crl-builder.ts';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import { caFixture, type CaFixture } from '../pki/support/ca-fixture.ts';
import { spiffe, startTestPki, TRUST_DOMAIN, type TestPki } from './support/gatehouse-pki.ts';

describe('downloaded trust material', () => {
  let pki: TestPki;
  let other: CaFixture;
  let api: PkiApiClient;

  before(async () => {
    pki = await startTestPki();
    other = await caFixture();
    api = new PkiApiClient({ gatehouseUrl: pki.url, gatehouseCa: pki.gatehouseCa });
  });
  after(async () => { await api?.close(); await pki?.close(); await other?.cleanup(); });

  it('accepts the CA\'s trust answer and sees a revocation in the next one', async () => {
    const first = await buildVerifiedTrust(await api.trust(), TRUST_DOMAIN);
    const c = await generateKeyAndCsr(spiffe('svc', 'a'));
    const issued = await pki.f.ca.issue({ csr: c.csrPem, spiffeId: spiffe('svc', 'a') });
    assert.equal(first.trust.isRevoked(issued.serial), false);
    await pki.f.ca.revoke({ serial: issued.serial });
    const second = await buildVerifiedTrust(await api.trust(), TRUST_DOMAIN, first);
    assert.ok(second.crlNumber > first.crlNumber);
    assert.equal(second.trust.isRevoked(issued.serial), true);
  });

  it('refuses a replayed older CRL that would un-revoke a certificate (rollback)', async () => {
    const old = await api.trust();
    await pki.f.ca.publishCrl();
    const current = await buildVerifiedTrust(await api.trust(), TRUST_DOMAIN);
    await assert.rejects(buildVerifiedTrust(old, TRUST_DOMAIN, current), { code: 'ERR_PKI_CLIENT_TRUST_INVALID' });
  });

  it('refuses a CRL signed by another CA in place of ours', async () => {
    const answer = await api.trust();
    const foreign = crlToPem((await other.ca.currentCrl()).der);
    const forged: TrustAnswer = { ...answer, crls: [foreign, answer.crls[1]!] };
    await assert.rejects(buildVerifiedTrust(forged, TRUST_DOMAIN), { code: 'ERR_PKI_CLIENT_TRUST_INVALID' });
  });

  it('refuses material without the root CRL (OpenSSL would refuse every peer)', async () => {
    const answer = await api.trust();
    await assert.rejects(buildVerifiedTrust({ ...answer, crls: [answer.crls[0]!] }, TRUST_DOMAIN), { code: 'ERR_PKI_CLIENT_TRUST_INVALID' });
  });

  it('refuses an intermediate that the roots did not sign', async () => {
    const answer = await api.trust();
    await assert.rejects(buildVerifiedTrust({ ...answer, intermediates: other.ca.intermediateCertPem }, TRUST_DOMAIN), { code: 'ERR_PKI_CLIENT_TRUST_INVALID' });
  });

  it('refuses material for another trust domain', async () => {
    await assert.rejects(buildVerifiedTrust(await api.trust(), 'other.example'), { code: 'ERR_PKI_CLIENT_TRUST_INVALID' });
  });

  it('refuses an expired CRL', async () => {
    const answer = await api.trust();
    await assert.rejects(buildVerifiedTrust(answer, TRUST_DOMAIN, undefined, new Date(Date.now() + 86_400_000)), { code: 'ERR_PKI_CLIENT_TRUST_INVALID' });
  });
});
