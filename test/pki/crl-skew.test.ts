/**
 * CRL entries and clock skew: a revoked certificate stays listed until it has expired for
 * every host whose clock lags by up to the skew the CA tolerates (pki.backdateSeconds).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { x509 } from '../../src/pki/x509.ts';
import { normalizeSerial } from '../../src/pki/serial.ts';
import { caFixture, TRUST_DOMAIN, type CaFixture } from './support/ca-fixture.ts';
import { makeCsr } from './support/openssl.ts';

const ID = `spiffe://${TRUST_DOMAIN}/svc/mail`;

describe('CRL entries near expiry', () => {
  let f: CaFixture;
  before(async () => { f = await caFixture({ config: { backdateSeconds: 120 } }); });
  after(async () => { await f.cleanup(); });

  it('keeps a revoked certificate on the CRL just after its notAfter, while a lagging host still accepts it', async () => {
    const start = new Date();
    f.setNow(start);
    const csr = await makeCsr(f.dir, 'skew', 'ec-p256', `URI:${ID}`);
    const issued = await f.ca.issue({ csr: csr.csrPem, spiffeId: ID, lifetimeSeconds: 300 });
    await f.ca.revoke({ serial: issued.serial }, 'keyCompromise');
    // 30 s after notAfter by the CA's clock: a host 60 s behind (within the 120 s tolerated) still sees it as valid.
    f.setNow(new Date(issued.notAfter.getTime() + 30_000));
    const crl = new x509.X509Crl((await f.ca.publishCrl()).der);
    assert.ok(crl.entries.some((e) => normalizeSerial(e.serialNumber) === issued.serial), 'the revoked serial is still listed');
    // Once past the tolerated skew, the entry is dropped (RFC 5280 allows it; the CRL stays small).
    f.setNow(new Date(issued.notAfter.getTime() + 121_000));
    const later = new x509.X509Crl((await f.ca.publishCrl()).der);
    assert.ok(!later.entries.some((e) => normalizeSerial(e.serialNumber) === issued.serial));
  });
});
