/**
 * Renewal follows the CA's current policy, not the one in force when the first
 * certificate was issued.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pkiSchema } from '../../src/core/config/pki-schema.ts';
import { CertificateAuthority } from '../../src/pki/authority.ts';
import { caFixture, PUBLIC_URL, TRUST_DOMAIN, type CaFixture } from './support/ca-fixture.ts';
import { makeCsr, mustOpenssl } from './support/openssl.ts';

const ID = `spiffe://${TRUST_DOMAIN}/svc/mail`;

describe('renewal under a changed CA policy', () => {
  let f: CaFixture;
  before(async () => { f = await caFixture(); });
  after(async () => { await f.cleanup(); });

  it('refuses to renew a certificate of a kind removed from pki.kinds (ERR_PKI_IDENTITY_NOT_ALLOWED)', async () => {
    const first = await makeCsr(f.dir, 'first', 'ec-p256', `URI:${ID}`);
    const issued = await f.ca.issue({ csr: first.csrPem, spiffeId: ID });
    // The operator stops issuing to "svc" workloads and restarts the CA on the same store.
    const restricted = await CertificateAuthority.open({
      repo: f.repo, masterKey: f.masterKey, publicUrl: PUBLIC_URL,
      config: pkiSchema.parse({ trustDomain: TRUST_DOMAIN, kinds: ['gateway', 'sidecar'] }),
    });
    const next = await makeCsr(f.dir, 'next', 'ec-p256', `URI:${ID}`);
    await assert.rejects(restricted.renew(next.csrPem, issued.certificatePem), { code: 'ERR_PKI_IDENTITY_NOT_ALLOWED' });
    // The unchanged CA still renews it.
    const renewed = await f.ca.renew(next.csrPem, issued.certificatePem);
    assert.equal(renewed.spiffeId, ID);
  });

  it('refuses a bootstrap token minted before its kind was removed from pki.kinds (ERR_PKI_SPIFFE_ID_INVALID)', async () => {
    const { token } = await f.ca.createBootstrapToken({ spiffeId: ID });
    const restricted = await CertificateAuthority.open({
      repo: f.repo, masterKey: f.masterKey, publicUrl: PUBLIC_URL,
      config: pkiSchema.parse({ trustDomain: TRUST_DOMAIN, kinds: ['gateway', 'sidecar'] }),
    });
    const csr = await makeCsr(f.dir, 'late-token', 'ec-p256', `URI:${ID}`);
    await assert.rejects(restricted.issueWithBootstrapToken(csr.csrPem, token), { code: 'ERR_PKI_SPIFFE_ID_INVALID' });
  });
});

describe('renewal with the key of the current certificate', () => {
  let f: CaFixture;
  before(async () => { f = await caFixture(); });
  after(async () => { await f.cleanup(); });

  it('refuses a renewal CSR for the key the current certificate already certifies (ERR_PKI_CSR_INVALID): every renewal is a new key', async () => {
    const first = await makeCsr(f.dir, 'same-key', 'ec-p256', `URI:${ID}`);
    const issued = await f.ca.issue({ csr: first.csrPem, spiffeId: ID });
    // The same CSR again, and a fresh CSR signed with the same key: both ask to extend the old key's life.
    const again = await mustOpenssl(['req', '-new', '-key', first.keyPath, '-subj', '/CN=again', '-addext', `subjectAltName=URI:${ID}`]);
    for (const csr of [first.csrPem, again]) {
      await assert.rejects(f.ca.renew(csr, issued.certificatePem), { code: 'ERR_PKI_CSR_INVALID' });
    }
    assert.equal((await f.ca.list({ spiffeId: ID })).length, 1, 'nothing was issued');
    // A new key renews.
    const next = await makeCsr(f.dir, 'new-key', 'ec-p256', `URI:${ID}`);
    assert.equal((await f.ca.renew(next.csrPem, issued.certificatePem)).spiffeId, ID);
  });
});
