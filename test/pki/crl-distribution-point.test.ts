/**
 * The CRL distribution point in each certificate, followed the way an outside relying party
 * does: the URL is read from the certificate, the CRL downloaded from it (by us, and by
 * `openssl verify -crl_download`), and openssl judges revocation with it. After
 * `ca rotate-intermediate` two intermediates sign CRLs, so a certificate's URL must serve its
 * own issuer's: certificates of the previous intermediate, of the new one, and those issued
 * before intermediates had URLs of their own (the bare `pki.crl.path`) are checked, revoked and not.
 */
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { caImportAlgorithm, caAlgorithm } from '../../src/pki/algorithms.ts';
import { CertificateAuthority } from '../../src/pki/authority.ts';
import { parseCsr } from '../../src/pki/csr.ts';
import { createPkiHttpHandler } from '../../src/pki/http/pki-http-handler.ts';
import { rotateIntermediate } from '../../src/pki/intermediate-rotation.ts';
import { unsealPrivateKey } from '../../src/pki/key-sealing.ts';
import { createLeafCertificate } from '../../src/pki/leaf-certificate.ts';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import { randomSerial, normalizeSerial } from '../../src/pki/serial.ts';
import { parseSpiffeId } from '../../src/pki/spiffe.ts';
import { x509 } from '../../src/pki/x509.ts';
import { caFixture, TRUST_DOMAIN, type CaFixture } from './support/ca-fixture.ts';
import { mustOpenssl, openssl } from './support/openssl.ts';

const ID = `spiffe://${TRUST_DOMAIN}/svc/mail`;

/** The URI of the certificate's CRL distribution point, as openssl reads it. */
async function distributionPoint(f: CaFixture, name: string, certPem: string): Promise<string> {
  const text = await mustOpenssl(['x509', '-noout', '-ext', 'crlDistributionPoints', '-in', await f.write(`${name}-cdp.pem`, certPem)]);
  const uri = /URI:(\S+)/.exec(text)?.[1];
  assert.ok(uri, text);
  return uri;
}

/**
 * A certificate as Gatehouse issued them before intermediates had a CRL URL each: signed by
 * the current intermediate, with the bare `pki.crl.path` as its distribution point.
 */
async function issueWithBareUrl(f: CaFixture, ca: CertificateAuthority, publicUrl: string) {
  const record = (await f.repo.getCa())!;
  const pkcs8 = unsealPrivateKey(record.intermediateKeySealed, f.masterKey, 'intermediate');
  const issuerKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, caImportAlgorithm(record.keyAlgorithm), false, ['sign']);
  const csr = await parseCsr((await generateKeyAndCsr(ID)).csrPem);
  const now = new Date();
  const serial = randomSerial();
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime() + 86_400_000);
  const cert = await createLeafCertificate({
    serial, spiffe: parseSpiffeId(ID, TRUST_DOMAIN), dnsNames: [], ipAddresses: [], publicKey: csr.publicKey, keyKind: csr.keyKind,
    notBefore, notAfter, issuer: new x509.X509Certificate(record.intermediateCertPem), issuerKey,
    signingAlgorithm: caAlgorithm(record.keyAlgorithm), crlUrl: new URL(ca.config.crl.path, publicUrl).href,
  });
  const certPem = cert.toString('pem') + '\n';
  await f.repo.insertCertificate({
    serial: normalizeSerial(serial)!, spiffeId: ID, dnsNames: [], ipAddresses: [], notBefore, notAfter, certPem,
    issuedVia: 'internal', createdAt: now, revokedAt: null, revocationReason: null, renewedFrom: null,
  });
  return { serial: normalizeSerial(serial)!, certificatePem: certPem };
}

describe('CRL distribution points after ca rotate-intermediate', () => {
  let f: CaFixture;
  let ca: CertificateAuthority;
  let server: Server;
  let publicUrl: string;
  const certs: Record<'legacy' | 'previous' | 'current', { serial: string; certificatePem: string }> = {} as never;

  before(async () => {
    f = await caFixture();
    let handler: ReturnType<typeof createPkiHttpHandler> | undefined;
    server = createServer((req, res) => {
      void handler!(req, res).then((handled) => { if (!handled) { res.statusCode = 404; res.end(); } });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    publicUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    ca = await CertificateAuthority.open({ repo: f.repo, masterKey: f.masterKey, config: f.ca.config, publicUrl });
    handler = createPkiHttpHandler({ ca });

    certs.legacy = await issueWithBareUrl(f, ca, publicUrl);
    certs.previous = await ca.issue({ csr: (await generateKeyAndCsr(ID)).csrPem, spiffeId: ID });
    await rotateIntermediate({ repo: f.repo, masterKey: f.masterKey, config: ca.config });
    assert.equal(await ca.reload(), true);
    certs.current = await ca.issue({ csr: (await generateKeyAndCsr(ID)).csrPem, spiffeId: ID });
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await f.cleanup();
  });

  /** openssl verify of the leaf against its CRL, downloaded from the URL the certificate names. */
  async function verifyThroughDistributionPoint(name: keyof typeof certs, variant: 'der' | 'pem') {
    const cert = certs[name];
    const url = await distributionPoint(f, name, cert.certificatePem);
    const res = await fetch(variant === 'pem' ? `${url}.pem` : url);
    assert.equal(res.status, 200, `${name}: GET ${url}`);
    const body = new Uint8Array(await res.arrayBuffer());
    const crlFile = variant === 'pem'
      ? await f.write(`${name}-crl.pem`, body)
      : await f.write(`${name}-crl.pem`, await mustOpenssl(['crl', '-inform', 'DER', '-in', await f.write(`${name}-crl.der`, body)]));
    return openssl(['verify', '-x509_strict', '-crl_check', '-CAfile', await f.write('root.pem', ca.rootCertPem),
      '-untrusted', await f.write('intermediates.pem', ca.intermediatesPem), '-CRLfile', crlFile, await f.write(`${name}.pem`, cert.certificatePem)]);
  }

  /** openssl verify fetching the CRL itself through the certificate's distribution point. */
  async function verifyWithCrlDownload(name: keyof typeof certs) {
    return openssl(['verify', '-x509_strict', '-crl_check', '-crl_download', '-CAfile', await f.write('root.pem', ca.rootCertPem),
      '-untrusted', await f.write('intermediates.pem', ca.intermediatesPem), await f.write(`${name}.pem`, certs[name].certificatePem)]);
  }

  it('gives each certificate the URL of its own issuer\'s CRL, and keeps the bare URL of certificates issued before', async () => {
    const previous = await distributionPoint(f, 'previous', certs.previous.certificatePem);
    const current = await distributionPoint(f, 'current', certs.current.certificatePem);
    assert.notEqual(previous, current);
    assert.equal(await distributionPoint(f, 'legacy', certs.legacy.certificatePem), `${publicUrl}${ca.config.crl.path}`);
  });

  it('lets openssl check a not revoked certificate of either intermediate, and an older one with the bare URL, with the CRL its distribution point serves (DER and PEM)', async () => {
    for (const name of ['legacy', 'previous', 'current'] as const) {
      for (const variant of ['der', 'pem'] as const) {
        const v = await verifyThroughDistributionPoint(name, variant);
        assert.equal(v.code, 0, `${name} ${variant}: ${v.stderr}${v.stdout}`);
      }
      const d = await verifyWithCrlDownload(name);
      assert.equal(d.code, 0, `${name} -crl_download: ${d.stderr}${d.stdout}`);
    }
  });

  it('lets openssl refuse a revoked certificate of either intermediate, and an older one with the bare URL, as revoked through its distribution point', async () => {
    for (const name of ['legacy', 'previous', 'current'] as const) await ca.revoke({ serial: certs[name].serial }, 'keyCompromise');
    for (const name of ['legacy', 'previous', 'current'] as const) {
      for (const variant of ['der', 'pem'] as const) {
        const v = await verifyThroughDistributionPoint(name, variant);
        assert.notEqual(v.code, 0, `${name} ${variant}`);
        assert.match(v.stderr + v.stdout, /certificate revoked/, `${name} ${variant}`);
      }
      const d = await verifyWithCrlDownload(name);
      assert.match(d.stderr + d.stdout, /certificate revoked/, `${name} -crl_download`);
    }
  });

  it('answers 404 for the CRL URL of a key id no trusted intermediate has', async () => {
    const res = await fetch(`${publicUrl}${ca.config.crl.path}/${'ab'.repeat(20)}`);
    assert.equal(res.status, 404);
  });
});
