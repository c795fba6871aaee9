/**
 * Rotation under load: the server's certificate is replaced several times through the
 * guard (setSecureContext) while undici clients loop requests over a keep-alive connection
 * and over new connections. No request may fail, and new connections see the new
 * certificate. Also: the SPIFFE checkServerIdentity refuses an upstream with another id.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { CertificateRotator, generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import { mtlsClientOptions } from '../../src/pki/mtls/tls-options.ts';
import type { TlsMaterial } from '../../src/pki/mtls/tls-material.ts';
import { normalizeSerial } from '../../src/pki/serial.ts';
import { caFixture, TRUST_DOMAIN, type CaFixture } from './support/ca-fixture.ts';
import { startGuardedServer, type GuardedServer } from './support/mtls-server.ts';

const GATEWAY = `spiffe://${TRUST_DOMAIN}/gateway/edge`;
const MAIL = `spiffe://${TRUST_DOMAIN}/svc/mail`;

describe('certificate rotation without dropping requests', () => {
  let f: CaFixture;
  let s: GuardedServer;
  let rotator: CertificateRotator;
  let client: TlsMaterial;

  before(async () => {
    f = await caFixture();
    rotator = new CertificateRotator({
      spiffeId: GATEWAY, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'],
      obtain: (csr, current) => current
        ? f.ca.renew(csr, current.chainPem)
        : f.ca.issue({ csr, spiffeId: GATEWAY, allowedDnsNames: ['localhost'], allowedIpAddresses: ['127.0.0.1'] }),
      onRotate: (material) => { s?.guard.update({ material }); },
    });
    const first = await rotator.start();
    s = await startGuardedServer({ material: first, trust: await f.ca.currentTrust(), policy: { allowedSpiffeIds: [MAIL] } });
    const c = await generateKeyAndCsr(MAIL);
    const issued = await f.ca.issue({ csr: c.csrPem, spiffeId: MAIL });
    client = { keyPem: c.keyPem, chainPem: issued.chainPem, spiffeId: MAIL, serial: issued.serial, notBefore: issued.notBefore, notAfter: issued.notAfter };
  });
  after(async () => { rotator?.stop(); await s?.close(); await f?.cleanup(); });

  function serverSerial(): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: s.port, ...mtlsClientOptions(client, s.guard.trust, { expectedSpiffeId: GATEWAY }), servername: 'localhost' }, () => {
        const serial = normalizeSerial(socket.getPeerCertificate().serialNumber)!;
        socket.destroy();
        resolve(serial);
      });
      socket.on('error', reject);
    });
  }

  it('schedules renewal at two thirds of the lifetime', () => {
    const at = CertificateRotator.renewalTime(new Date(0), new Date(86_400_000));
    assert.equal(at.getTime(), 57_600_000);
  });

  it('replaces the server certificate 5 times under continuous keep-alive and new-connection requests, losing none', async () => {
    const keepAlive = new Agent({ connect: { ...mtlsClientOptions(client, () => s.guard.trust, { expectedSpiffeId: GATEWAY }), servername: 'localhost' }, keepAliveTimeout: 30_000 });
    const fresh = new Agent({ connect: { ...mtlsClientOptions(client, () => s.guard.trust, { expectedSpiffeId: GATEWAY }), servername: 'localhost' } });
    const url = `https://localhost:${s.port}/loop`;
    const failures: unknown[] = [];
    let ok = 0;
    let running = true;
    const loop = async (dispatcher: Agent, reset: boolean) => {
      while (running) {
        try {
          const r = await request(url, { dispatcher, reset });
          const text = await r.body.text();
          if (r.statusCode === 200 && text.includes(MAIL)) ok++; else failures.push(`${r.statusCode} ${text}`);
        } catch (error) { failures.push(error); }
      }
    };
    const loops = [loop(keepAlive, false), loop(keepAlive, false), loop(fresh, true)];
    const serials = new Set<string>([await serverSerial()]);
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 60));
      const material = await rotator.rotateNow();
      const seen = await serverSerial();
      assert.equal(seen, material.serial, 'a new connection presents the new certificate');
      serials.add(seen);
    }
    await new Promise((r) => setTimeout(r, 60));
    running = false;
    await Promise.all(loops);
    await keepAlive.close();
    await fresh.close();
    console.log(`# rotation under load: ${ok} requests completed, ${failures.length} failed, 5 rotations`);
    assert.deepEqual(failures, []);
    assert.ok(ok > 20, `only ${ok} requests completed`);
    assert.equal(serials.size, 6);
    assert.equal(s.events.filter((e) => e.type === 'pki.peer.refused').length, 0);
  });

  it('refuses an upstream that presents another SPIFFE id than expected (checkServerIdentity)', async () => {
    const agent = new Agent({ connect: { ...mtlsClientOptions(client, s.guard.trust, { expectedSpiffeId: `spiffe://${TRUST_DOMAIN}/svc/billing` }), servername: 'localhost' } });
    await assert.rejects(request(`https://localhost:${s.port}/`, { dispatcher: agent }), (error: Error & { code?: string; cause?: { code?: string } }) => {
      const code = error.code ?? error.cause?.code;
      return code === 'ERR_PKI_PEER_IDENTITY_MISMATCH';
    });
    await agent.close();
  });
});
