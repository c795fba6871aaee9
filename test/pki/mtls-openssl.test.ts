/**
 * mTLS listeners judged by `openssl s_client`: each kind of bad client certificate is
 * refused, never reaches the request handler, and is reported for audit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { crlToPem } from '../../src/pki/crl-builder.ts';
import { caFixture, TRUST_DOMAIN, type CaFixture } from './support/ca-fixture.ts';
import { startGuardedServer, type GuardedServer } from './support/mtls-server.ts';
import { makeCsr, openssl } from './support/openssl.ts';

const GATEWAY = `spiffe://${TRUST_DOMAIN}/gateway/edge`;
const MAIL = `spiffe://${TRUST_DOMAIN}/svc/mail`;

describe('mTLS server guard (openssl s_client as client)', () => {
  let f: CaFixture;
  let other: CaFixture;
  let s: GuardedServer;

  /** A client key (made by openssl) and certificate for `spiffeId`, written for s_client. */
  async function client(fixture: CaFixture, name: string, spiffeId: string, lifetimeSeconds?: number) {
    const csr = await makeCsr(f.dir, name, 'ec-p256');
    const issued = await fixture.ca.issue({ csr: csr.csrPem, spiffeId, ...(lifetimeSeconds ? { lifetimeSeconds } : {}) });
    return { issued, keyPath: csr.keyPath, certPath: await f.write(`${name}.crt`, issued.certificatePem) };
  }

  async function request(cert?: { keyPath: string; certPath: string }) {
    const args = ['s_client', '-connect', `127.0.0.1:${s.port}`, '-servername', 'localhost', '-CAfile', f.rootPath, '-verify_return_error', '-ign_eof', '-quiet'];
    if (cert) args.push('-cert', cert.certPath, '-key', cert.keyPath);
    return openssl(args, 'GET /probe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  }

  function lastRefusal() {
    const refused = s.events.filter((e) => e.type === 'pki.peer.refused');
    return refused.at(-1) as Extract<(typeof refused)[number], { type: 'pki.peer.refused' }> | undefined;
  }

  before(async () => {
    f = await caFixture();
    other = await caFixture();
    const srv = await makeCsr(f.dir, 'server', 'ec-p256', 'DNS:localhost,IP:127.0.0.1');
    const issued = await f.ca.issue({ csr: srv.csrPem, spiffeId: GATEWAY, allowedDnsNames: ['localhost'], allowedIpAddresses: ['127.0.0.1'] });
    const material = { keyPem: srv.keyPem, chainPem: issued.chainPem, spiffeId: GATEWAY, serial: issued.serial, notBefore: issued.notBefore, notAfter: issued.notAfter };
    s = await startGuardedServer({ material, trust: f.ca.trustStore(crlToPem((await f.ca.currentCrl()).der)), policy: { allowedSpiffeIds: [MAIL] } });
  });
  after(async () => { await s?.close(); await f?.cleanup(); await other?.cleanup(); });

  it('accepts a valid certificate of an allowed SPIFFE id, and s_client verifies the server chain', async () => {
    const c = await client(f, 'good', MAIL);
    const r = await request(c);
    assert.match(r.stdout, /HTTP\/1\.1 200/, r.stderr);
    assert.match(r.stdout, new RegExp(`hello ${MAIL.replace(/[.]/g, '\\.')}`));
    assert.deepEqual(s.handled.at(-1), { path: '/probe', spiffeId: MAIL });
    assert.ok(s.events.some((e) => e.type === 'pki.peer.accepted' && e.serial === c.issued.serial));
  });

  it('refuses a client without a certificate (ERR_PKI_PEER_CERT_MISSING)', async () => {
    const before = s.handled.length;
    const r = await request();
    assert.doesNotMatch(r.stdout, /HTTP\/1\.1/);
    assert.equal(s.handled.length, before);
    assert.equal(lastRefusal()?.code, 'ERR_PKI_PEER_CERT_MISSING');
  });

  it('refuses a certificate signed by another CA (ERR_PKI_PEER_CERT_UNTRUSTED)', async () => {
    const before = s.handled.length;
    const c = await client(other, 'foreign', MAIL);
    const r = await request(c);
    assert.doesNotMatch(r.stdout, /HTTP\/1\.1/);
    assert.equal(s.handled.length, before);
    assert.equal(lastRefusal()?.code, 'ERR_PKI_PEER_CERT_UNTRUSTED');
  });

  it('refuses an expired certificate (ERR_PKI_PEER_CERT_EXPIRED)', async () => {
    f.setNow(new Date(Date.now() - 3 * 3600_000));
    const c = await client(f, 'expired', MAIL, 600);
    f.setNow(new Date());
    const before = s.handled.length;
    const r = await request(c);
    assert.doesNotMatch(r.stdout, /HTTP\/1\.1/);
    assert.equal(s.handled.length, before);
    assert.equal(lastRefusal()?.code, 'ERR_PKI_PEER_CERT_EXPIRED');
    assert.equal(lastRefusal()?.reason, 'CERT_HAS_EXPIRED');
  });

  it('refuses a certificate with another SPIFFE id than allowed (ERR_PKI_PEER_IDENTITY_MISMATCH)', async () => {
    const c = await client(f, 'wrong-id', `spiffe://${TRUST_DOMAIN}/svc/billing`);
    const before = s.handled.length;
    const r = await request(c);
    assert.doesNotMatch(r.stdout, /HTTP\/1\.1/);
    assert.equal(s.handled.length, before);
    assert.equal(lastRefusal()?.code, 'ERR_PKI_PEER_IDENTITY_MISMATCH');
    assert.equal(lastRefusal()?.spiffeId, `spiffe://${TRUST_DOMAIN}/svc/billing`);
  });

  it('refuses a revoked certificate once the new CRL is loaded (ERR_PKI_PEER_CERT_REVOKED)', async () => {
    const c = await client(f, 'revoked', MAIL);
    assert.match((await request(c)).stdout, /HTTP\/1\.1 200/);
    await f.ca.revoke({ serial: c.issued.serial }, 'keyCompromise');
    s.guard.update({ trust: f.ca.trustStore(crlToPem((await f.ca.currentCrl()).der)) });
    const before = s.handled.length;
    const r = await request(c);
    assert.doesNotMatch(r.stdout, /HTTP\/1\.1/);
    assert.equal(s.handled.length, before);
    assert.equal(lastRefusal()?.code, 'ERR_PKI_PEER_CERT_REVOKED');
    assert.equal(lastRefusal()?.reason, 'CERT_REVOKED');
  });
});
