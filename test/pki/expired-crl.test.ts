/**
 * Revocation data past its nextUpdate. When the store is unreachable, every instance keeps the
 * last CRL it read (CrlWatcher), and docs/pki.md promises that once that CRL's nextUpdate has
 * passed, peers are refused (fail closed): a certificate revoked during the outage must not
 * stay usable for as long as the outage lasts. OpenSSL does this in the handshake; the checks
 * Gatehouse makes itself (the gateway's client-certificate authentication, renewal, live
 * connection re-checks) must agree with it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Socket } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { MtlsAuthenticator } from '../../src/authn/mtls-authenticator.ts';
import { crlToPem } from '../../src/pki/crl-builder.ts';
import { verifyPeer } from '../../src/pki/mtls/verify-peer.ts';
import type { TrustStore } from '../../src/pki/trust-store.ts';
import { caFixture, TRUST_DOMAIN, type CaFixture } from './support/ca-fixture.ts';
import { makeCsr, openssl } from './support/openssl.ts';

const MAIL = `spiffe://${TRUST_DOMAIN}/svc/mail`;

describe('a CRL past its nextUpdate (store unreachable)', () => {
  let f: CaFixture;
  let trust: TrustStore;
  let nextUpdate: Date;
  let leafPem: string;
  let leafPath: string;
  let crlsPath: string;

  before(async () => {
    f = await caFixture({ config: { crl: { lifetimeSeconds: 900 } } });
    const csr = await makeCsr(f.dir, 'mail', 'ec-p256');
    const issued = await f.ca.issue({ csr: csr.csrPem, spiffeId: MAIL, lifetimeSeconds: 86400 });
    leafPem = issued.certificatePem;
    leafPath = await f.write('mail.crt', leafPem);
    const crl = await f.ca.currentCrl();
    nextUpdate = crl.nextUpdate;
    trust = f.ca.trustStore(crlToPem(crl.der));
    crlsPath = await f.write('crls.pem', trust.crlPems.join(''));
  });
  after(async () => { await f.cleanup(); });

  const opensslVerifyAt = (at: Date) => openssl(['verify', '-x509_strict', '-purpose', 'sslclient', '-crl_check_all', '-CRLfile', crlsPath,
    '-CAfile', f.rootPath, '-untrusted', f.intermediatePath, '-attime', String(Math.floor(at.getTime() / 1000)), leafPath]);

  it('accepts the certificate while the CRL is current, as openssl does', async () => {
    const at = new Date(nextUpdate.getTime() - 60_000);
    assert.equal((await opensslVerifyAt(at)).code, 0);
    assert.equal(verifyPeer(leafPem, trust, { now: at }).spiffeId, MAIL);
  });

  it('refuses the certificate once the CRL has expired (ERR_PKI_PEER_CERT_UNTRUSTED), as openssl does', async () => {
    const at = new Date(nextUpdate.getTime() + 60_000);
    const judged = await opensslVerifyAt(at);
    assert.notEqual(judged.code, 0);
    assert.match(judged.stdout + judged.stderr, /CRL has expired/);
    assert.throws(() => verifyPeer(leafPem, trust, { now: at }), { code: 'ERR_PKI_PEER_CERT_UNTRUSTED' });
  });

  it('a keep-alive connection authenticated at the gateway before the CRL expired is verified again after it', async () => {
    let now = new Date(nextUpdate.getTime() - 60_000);
    const authenticator = new MtlsAuthenticator({
      // What src/gateway/compose.ts wires, with the test's clock.
      verify: (cert) => verifyPeer(cert, trust, { now }),
      trust: () => trust,
      principals: { getPrincipal: async () => undefined },
      onInvalidate: () => () => {},
    });
    const socket = { encrypted: true } as unknown as Socket;
    const identity = await authenticator.authenticate(socket, new X509Certificate(leafPem));
    assert.equal(identity.subject, MAIL);
    assert.equal(authenticator.cached(socket, now.getTime())?.subject, MAIL);
    now = new Date(nextUpdate.getTime() + 60_000);
    assert.equal(authenticator.cached(socket, now.getTime()), undefined, 'the cached verdict outlived the CRL it was made under');
    await assert.rejects(authenticator.authenticate(socket, new X509Certificate(leafPem)), { code: 'ERR_AUTHN_CLIENT_CERT_INVALID' });
    authenticator.close();
  });
});
