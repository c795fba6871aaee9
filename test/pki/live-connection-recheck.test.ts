/**
 * Long-lived connections under MtlsServerGuard: a trust update judges every open
 * connection again, so a keep-alive connection does not outlive its certificate.
 */
import assert from 'node:assert/strict';
import { connect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { crlToPem } from '../../src/pki/crl-builder.ts';
import { caFixture, TRUST_DOMAIN, type CaFixture } from './support/ca-fixture.ts';
import { startGuardedServer, type GuardedServer } from './support/mtls-server.ts';
import { makeCsr } from './support/openssl.ts';

const GATEWAY = `spiffe://${TRUST_DOMAIN}/gateway/edge`;
const MAIL = `spiffe://${TRUST_DOMAIN}/svc/mail`;

describe('mTLS server guard: live connections at a trust update', () => {
  let f: CaFixture;
  let s: GuardedServer;

  before(async () => {
    f = await caFixture();
    const srv = await makeCsr(f.dir, 'server', 'ec-p256', 'DNS:localhost');
    const issued = await f.ca.issue({ csr: srv.csrPem, spiffeId: GATEWAY, allowedDnsNames: ['localhost'] });
    const material = { keyPem: srv.keyPem, chainPem: issued.chainPem, spiffeId: GATEWAY, serial: issued.serial, notBefore: issued.notBefore, notAfter: issued.notAfter };
    s = await startGuardedServer({ material, trust: f.ca.trustStore(crlToPem((await f.ca.currentCrl()).der)), policy: { allowedSpiffeIds: [MAIL] } });
  });
  after(async () => { await s?.close(); await f?.cleanup(); });

  it('closes a keep-alive connection whose client certificate expired while connected (ERR_PKI_PEER_CERT_EXPIRED)', async () => {
    // Issued "300 s ago" with the shortest lifetime: valid now, expired two seconds from now.
    f.setNow(new Date(Date.now() - 298_000));
    const csr = await makeCsr(f.dir, 'short', 'ec-p256');
    const issued = await f.ca.issue({ csr: csr.csrPem, spiffeId: MAIL, lifetimeSeconds: 300 });
    f.setNow(new Date());
    const socket: TLSSocket = connect({ host: '127.0.0.1', port: s.port, servername: 'localhost', ca: f.ca.rootCertPem, key: csr.keyPem, cert: issued.chainPem, checkServerIdentity: () => undefined });
    await new Promise<void>((resolve, reject) => { socket.once('secureConnect', resolve); socket.once('error', reject); });
    socket.write('GET /live HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    assert.ok(s.events.some((e) => e.type === 'pki.peer.accepted' && e.serial === issued.serial));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));

    while (Date.now() <= issued.notAfter.getTime() + 1000) await sleep(200);
    s.guard.update({ trust: f.ca.trustStore(crlToPem((await f.ca.currentCrl()).der)) });

    const refusal = s.events.filter((e) => e.type === 'pki.peer.refused').at(-1);
    assert.equal(refusal?.type === 'pki.peer.refused' ? refusal.code : undefined, 'ERR_PKI_PEER_CERT_EXPIRED');
    assert.equal(refusal?.type === 'pki.peer.refused' ? refusal.serial : undefined, issued.serial);
    await closed;
  });
});
