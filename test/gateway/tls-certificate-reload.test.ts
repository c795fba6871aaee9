/**
 * A new listener certificate picked up by a configuration reload must not loosen the TLS
 * settings of the listener: the configured lowest version and the AEAD-only TLS 1.2 suites
 * stay in force for the handshakes that get the new certificate.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions } from 'node:tls';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { ensureDevCertificate } from '../../src/gateway/tls/dev-certificate.ts';

/** Handshake outcome: the certificate the server presented and the protocol, or the error. */
function handshake(port: number, options: ConnectionOptions): Promise<{ ok: true; fingerprint: string; protocol: string } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => {
      const raw = socket.getPeerCertificate().raw;
      resolve({ ok: true, fingerprint: new X509Certificate(raw).fingerprint256, protocol: socket.getProtocol() ?? '' });
      socket.destroy();
    });
    socket.on('error', (err) => resolve({ ok: false, error: err.message }));
  });
}

describe('listener certificate reload keeps the TLS settings', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => { for (const c of cleanup.reverse()) await c(); });

  /** A gateway serving certificate A from files, and certificate B ready to replace it. */
  async function gatewayWithReplaceableCertificate(minVersion: 'TLSv1.2' | 'TLSv1.3'): Promise<{ gw: TestGateway; port: number; fingerprintB: string; swap: () => Promise<void> }> {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-tls-reload-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const a = await ensureDevCertificate(join(dir, 'a'));
    const b = await ensureDevCertificate(join(dir, 'b'));
    const certFile = join(dir, 'server.crt');
    const keyFile = join(dir, 'server.key');
    await writeFile(certFile, a.cert);
    await writeFile(keyFile, a.key, { mode: 0o600 });
    const listeners = { https: { host: '127.0.0.1', port: 0, tls: { cert: certFile, key: keyFile, minVersion } }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } };
    const gw = await startGateway({ listeners });
    cleanup.push(() => gw.close());
    const port = gw.gateway.addresses().https.port;
    return {
      gw, port, fingerprintB: new X509Certificate(b.cert).fingerprint256,
      async swap() {
        await writeFile(certFile, b.cert);
        await writeFile(keyFile, b.key, { mode: 0o600 });
        await gw.writeConfig({ listeners });
        assert.equal((await gw.gateway.reload('test')).applied, true);
      },
    };
  }

  it('refuses a TLS 1.2 handshake on a TLSv1.3-only listener after its certificate was reloaded', async () => {
    const { port, fingerprintB, swap } = await gatewayWithReplaceableCertificate('TLSv1.3');
    assert.equal((await handshake(port, { maxVersion: 'TLSv1.2' })).ok, false, 'TLS 1.2 accepted before the reload');
    await swap();
    const modern = await handshake(port, {});
    assert.ok(modern.ok && modern.fingerprint === fingerprintB, 'the reloaded certificate is served');
    const old = await handshake(port, { maxVersion: 'TLSv1.2' });
    assert.equal(old.ok, false, `TLS 1.2 accepted after the reload (${old.ok ? old.protocol : ''})`);
  });

  it('refuses a non-AEAD (CBC) TLS 1.2 suite after the certificate was reloaded', async () => {
    const { port, fingerprintB, swap } = await gatewayWithReplaceableCertificate('TLSv1.2');
    const cbc: ConnectionOptions = { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256' };
    assert.equal((await handshake(port, cbc)).ok, false, 'CBC suite accepted before the reload');
    await swap();
    const aead = await handshake(port, { maxVersion: 'TLSv1.2' });
    assert.ok(aead.ok && aead.fingerprint === fingerprintB, 'the reloaded certificate is served over TLS 1.2 with an AEAD suite');
    assert.equal((await handshake(port, cbc)).ok, false, 'CBC suite accepted after the reload');
  });
});
