/**
 * MtlsServerGuard swaps a new secure context into its servers at every renewal and trust refresh,
 * and `setSecureContext` replaces the whole context: a setting given only to `createServer`
 * (here an AEAD-only suite list, as an SDK user passes in `createMtlsServer`'s `serverOptions`)
 * fell back to Node's default list at the first CRL refresh, which takes CBC suites. Given to the
 * guard as `tlsSettings` too, it stays.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { crlToPem } from '../../src/pki/crl-builder.ts';
import { MtlsServerGuard } from '../../src/pki/mtls/server-guard.ts';
import { caFixture, TRUST_DOMAIN, type CaFixture } from './support/ca-fixture.ts';
import { makeCsr } from './support/openssl.ts';

const SERVER = `spiffe://${TRUST_DOMAIN}/svc/store`;
const AEAD_ONLY = { ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384' };

describe('mTLS server guard: the server\'s own TLS settings across a context swap', () => {
  let f: CaFixture;
  let guard: MtlsServerGuard;
  let server: Server;

  before(async () => {
    f = await caFixture();
    const srv = await makeCsr(f.dir, 'server', 'ec-p256', 'DNS:localhost');
    const issued = await f.ca.issue({ csr: srv.csrPem, spiffeId: SERVER, allowedDnsNames: ['localhost'] });
    const material = { keyPem: srv.keyPem, chainPem: issued.chainPem, spiffeId: SERVER, serial: issued.serial, notBefore: issued.notBefore, notAfter: issued.notAfter };
    // The probe below presents no certificate; requireClientCert false lets it finish its handshake.
    guard = new MtlsServerGuard({ material, trust: f.ca.trustStore(crlToPem((await f.ca.currentCrl()).der)), requireClientCert: false, tlsSettings: AEAD_ONLY });
    // As createMtlsServer builds it: the user's options, then the guard's.
    server = createServer({ ...AEAD_ONLY, ...guard.serverOptions() }, (_req, res) => res.end());
    guard.attach(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await f?.cleanup();
  });

  /** Whether a TLS 1.2 handshake offering only a CBC suite completes. */
  const cbcAccepted = () => new Promise<boolean>((resolve) => {
    const port = (server.address() as AddressInfo).port;
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-SHA384' }, () => { socket.destroy(); resolve(true); });
    socket.on('error', () => resolve(false));
  });

  it('refuses a CBC suite before and after a CRL refresh swaps the context', async () => {
    assert.equal(await cbcAccepted(), false, 'refused at creation');
    await f.ca.publishCrl();
    guard.update({ trust: f.ca.trustStore(crlToPem((await f.ca.currentCrl()).der)) });
    assert.equal(await cbcAccepted(), false, 'the suite list fell back to Node\'s default at the swap');
  });
});
