/**
 * Issuance from CSRs made by openssl, judged by openssl.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { caFixture, TRUST_DOMAIN, type CaFixture } from './support/ca-fixture.ts';
import { makeCsr, mustOpenssl, openssl } from './support/openssl.ts';
import { normalizeSerial } from '../../src/pki/serial.ts';

const ID = `spiffe://${TRUST_DOMAIN}/svc/mail`;

describe('certificate issuance (openssl as judge)', () => {
  let f: CaFixture;
  before(async () => { f = await caFixture(); });
  after(async () => { await f.cleanup(); });

  async function issueWithToken(name: string, key: Parameters<typeof makeCsr>[2], sans: string | undefined, grant: { dnsNames?: string[]; ipAddresses?: string[] } = {}, extraExt: string[] = []) {
    const csr = await makeCsr(f.dir, name, key, sans, extraExt);
    const { token } = await f.ca.createBootstrapToken({ spiffeId: ID, ...grant });
    const issued = await f.ca.issueWithBootstrapToken(csr.csrPem, token);
    const certPath = await f.write(`${name}.pem`, issued.certificatePem);
    return { csr, issued, certPath };
  }

  it('makes a root (CA, pathlen 1) and an intermediate (CA, pathlen 0) that openssl chains', async () => {
    const root = await mustOpenssl(['x509', '-in', f.rootPath, '-noout', '-text']);
    assert.match(root, /CA:TRUE, pathlen:1/);
    assert.match(root, /Certificate Sign, CRL Sign/);
    assert.match(root, /ASN1 OID: prime256v1/);
    const inter = await mustOpenssl(['x509', '-in', f.intermediatePath, '-noout', '-text']);
    assert.match(inter, /CA:TRUE, pathlen:0/);
    const v = await openssl(['verify', '-CAfile', f.rootPath, f.intermediatePath]);
    assert.equal(v.code, 0, v.stderr);
  });

  it('issues an EC P-256 certificate with the SPIFFE, DNS and IP SANs, usages and CRL point requested', async () => {
    const { issued, certPath } = await issueWithToken('ec', 'ec-p256', `URI:${ID},DNS:mail.internal,IP:10.1.2.3`, { dnsNames: ['mail.internal'], ipAddresses: ['10.1.2.3'] });
    const v = await openssl(['verify', '-CAfile', f.rootPath, '-untrusted', f.intermediatePath, '-purpose', 'sslclient', certPath]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /: OK/);
    const v2 = await openssl(['verify', '-CAfile', f.rootPath, '-untrusted', f.intermediatePath, '-purpose', 'sslserver', certPath]);
    assert.equal(v2.code, 0, v2.stderr);
    const text = await mustOpenssl(['x509', '-in', certPath, '-noout', '-text']);
    assert.match(text, new RegExp(`URI:${ID.replace(/[.]/g, '\\.')}`));
    assert.match(text, /DNS:mail\.internal/);
    assert.match(text, /IP Address:10\.1\.2\.3/);
    assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature\s*\n/);
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(text, /X509v3 Subject Key Identifier/);
    assert.match(text, /X509v3 Authority Key Identifier/);
    assert.match(text, /URI:https:\/\/gatehouse\.test:8443\/\.well-known\/gatehouse\/crl/);
    // Default lifetime 24 h, backdated 60 s.
    const lifetime = issued.notAfter.getTime() - issued.notBefore.getTime();
    assert.equal(lifetime, 86_400_000 + 60_000);
    // 128-bit random serial: 32 hex digits (never zero-led).
    const serial = (await mustOpenssl(['x509', '-in', certPath, '-noout', '-serial'])).trim().replace('serial=', '');
    assert.equal(serial.length, 32);
    assert.equal(normalizeSerial(serial), issued.serial);
  });

  it('adds keyEncipherment for an RSA 2048 key', async () => {
    const { certPath } = await issueWithToken('rsa', 'rsa-2048', undefined);
    const text = await mustOpenssl(['x509', '-in', certPath, '-noout', '-text']);
    assert.match(text, /Digital Signature, Key Encipherment/);
    assert.equal((await openssl(['verify', '-CAfile', f.rootPath, '-untrusted', f.intermediatePath, certPath])).code, 0);
  });

  it('issues for Ed25519 and EC P-384 keys', async () => {
    for (const key of ['ed25519', 'ec-p384'] as const) {
      const { certPath, issued } = await issueWithToken(key, key, `URI:${ID}`);
      const v = await openssl(['verify', '-CAfile', f.rootPath, '-untrusted', f.intermediatePath, certPath]);
      assert.equal(v.code, 0, `${key}: ${v.stderr}`);
      assert.equal(issued.spiffeId, ID);
    }
  });

  it('refuses an RSA 1024 key and a secp256k1 key with ERR_PKI_KEY_UNSUPPORTED', async () => {
    for (const key of ['rsa-1024', 'ec-secp256k1'] as const) {
      const csr = await makeCsr(f.dir, `weak-${key}`, key);
      const { token } = await f.ca.createBootstrapToken({ spiffeId: ID });
      await assert.rejects(f.ca.issueWithBootstrapToken(csr.csrPem, token), { code: 'ERR_PKI_KEY_UNSUPPORTED' });
    }
  });

  it('refuses an RSA 2048 key with public exponent 3 (low-exponent attacks) with ERR_PKI_KEY_UNSUPPORTED', async () => {
    const csr = await makeCsr(f.dir, 'weak-rsa-e3', 'rsa-2048-e3', `URI:${ID}`);
    assert.match(await mustOpenssl(['req', '-in', csr.csrPath, '-noout', '-text']), /Exponent: 3 \(0x3\)/);
    const { token } = await f.ca.createBootstrapToken({ spiffeId: ID });
    await assert.rejects(f.ca.issueWithBootstrapToken(csr.csrPem, token), { code: 'ERR_PKI_KEY_UNSUPPORTED' });
  });

  it('refuses a CSR whose self-signature was tampered with (no proof of key possession)', async () => {
    const csr = await makeCsr(f.dir, 'tamper', 'ec-p256', `URI:${ID}`);
    const der = Buffer.from(csr.csrPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    der[der.length - 5]! ^= 0x01;
    const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    const { token } = await f.ca.createBootstrapToken({ spiffeId: ID });
    await assert.rejects(f.ca.issueWithBootstrapToken(pem, token), { code: 'ERR_PKI_CSR_INVALID' });
  });

  it('refuses a CSR asking for another SPIFFE id than the token is bound to', async () => {
    const csr = await makeCsr(f.dir, 'other-id', 'ec-p256', `URI:spiffe://${TRUST_DOMAIN}/svc/admin`);
    const { token } = await f.ca.createBootstrapToken({ spiffeId: ID });
    await assert.rejects(f.ca.issueWithBootstrapToken(csr.csrPem, token), { code: 'ERR_PKI_IDENTITY_NOT_ALLOWED' });
    assert.ok(f.events.some((e) => e.type === 'pki.certificate.refused' && e.code === 'ERR_PKI_IDENTITY_NOT_ALLOWED'));
  });

  it('refuses a CSR asking for a DNS name the identity was not granted', async () => {
    const csr = await makeCsr(f.dir, 'dns-grab', 'ec-p256', `URI:${ID},DNS:login.bank.example`);
    const { token } = await f.ca.createBootstrapToken({ spiffeId: ID, dnsNames: ['mail.internal'] });
    await assert.rejects(f.ca.issueWithBootstrapToken(csr.csrPem, token), { code: 'ERR_PKI_IDENTITY_NOT_ALLOWED' });
  });

  it('refuses a CSR asking for an e-mail SAN', async () => {
    const csr = await makeCsr(f.dir, 'email', 'ec-p256', `URI:${ID},email:a@b.example`);
    const { token } = await f.ca.createBootstrapToken({ spiffeId: ID });
    await assert.rejects(f.ca.issueWithBootstrapToken(csr.csrPem, token), { code: 'ERR_PKI_CSR_INVALID' });
  });

  it('ignores a CSR that asks for CA:TRUE: the certificate is still CA:FALSE', async () => {
    const { certPath } = await issueWithToken('wants-ca', 'ec-p256', `URI:${ID}`, {}, ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign']);
    const text = await mustOpenssl(['x509', '-in', certPath, '-noout', '-text']);
    assert.match(text, /CA:FALSE/);
    assert.doesNotMatch(text, /Certificate Sign/);
  });

  it('refuses a lifetime above the configured maximum', async () => {
    const csr = await makeCsr(f.dir, 'long', 'ec-p256');
    const { token } = await f.ca.createBootstrapToken({ spiffeId: ID });
    await assert.rejects(f.ca.issueWithBootstrapToken(csr.csrPem, token, { lifetimeSeconds: 365 * 86400 }), { code: 'ERR_PKI_LIFETIME_INVALID' });
  });

  it('refuses a too-long lifetime without burning the bootstrap token: the corrected request succeeds', async () => {
    const csr = await makeCsr(f.dir, 'long-then-ok', 'ec-p256', `URI:${ID}`);
    const { token } = await f.ca.createBootstrapToken({ spiffeId: ID });
    await assert.rejects(f.ca.issueWithBootstrapToken(csr.csrPem, token, { lifetimeSeconds: 365 * 86400 }), { code: 'ERR_PKI_LIFETIME_INVALID' });
    const issued = await f.ca.issueWithBootstrapToken(csr.csrPem, token, { lifetimeSeconds: 3600 });
    assert.equal(issued.spiffeId, ID);
  });

  it('refuses to grant a scoped IPv6 address (fe80::1%eth0) with ERR_ADMIN_INPUT_INVALID, not an internal error', async () => {
    await assert.rejects(f.ca.createBootstrapToken({ spiffeId: ID, ipAddresses: ['fe80::1%eth0'] }), { code: 'ERR_ADMIN_INPUT_INVALID' });
    const csr = await makeCsr(f.dir, 'scoped-ip', 'ec-p256', `URI:${ID}`);
    await assert.rejects(f.ca.issue({ csr: csr.csrPem, spiffeId: ID, allowedIpAddresses: ['fe80::1%25eth0'] }), { code: 'ERR_ADMIN_INPUT_INVALID' });
  });

  it('refuses garbage instead of a CSR', async () => {
    const { token } = await f.ca.createBootstrapToken({ spiffeId: ID });
    await assert.rejects(f.ca.issueWithBootstrapToken('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', token), { code: 'ERR_PKI_CSR_INVALID' });
    await assert.rejects(f.ca.issueWithBootstrapToken('x'.repeat(20_000), token), { code: 'ERR_PKI_CSR_INVALID' });
  });
});
