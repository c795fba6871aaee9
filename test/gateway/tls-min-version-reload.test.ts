/**
 * `listeners.https.tls.minVersion` is applied by a reload (it is not reported as restart-only):
 * raising it to TLSv1.3 must refuse TLS 1.2 handshakes from then on, also when the certificate
 * stays the same. The reload used to look at the certificate files only and left the listener
 * accepting TLS 1.2 while the log said the configuration was reloaded.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { startGateway } from '../support/gateway.ts';
import { ensureDevCertificate } from '../../src/gateway/tls/dev-certificate.ts';

/** The protocol a real TLS 1.2-only client gets, or 'refused'. */
function tls12Handshake(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, maxVersion: 'TLSv1.2' }, () => {
      resolve(socket.getProtocol() ?? '');
      socket.destroy();
    });
    socket.on('error', () => resolve('refused'));
  });
}

describe('reloading listeners.https.tls.minVersion', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => { for (const c of cleanup.reverse()) await c(); });

  it('refuses TLS 1.2 after a reload raised minVersion to TLSv1.3 with the same certificate files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-minversion-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const pair = await ensureDevCertificate(join(dir, 'pair'));
    const files = { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
    await writeFile(files.cert, pair.cert);
    await writeFile(files.key, pair.key, { mode: 0o600 });
    const listeners = (minVersion: 'TLSv1.2' | 'TLSv1.3') => ({ https: { host: '127.0.0.1', port: 0, tls: { ...files, minVersion } }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } });
    const gw = await startGateway({ listeners: listeners('TLSv1.2') });
    cleanup.push(() => gw.close());
    const port = gw.gateway.addresses().https.port;
    assert.equal(await tls12Handshake(port), 'TLSv1.2');
    await gw.writeConfig({ listeners: listeners('TLSv1.3') });
    assert.equal((await gw.gateway.reload('test')).applied, true);
    assert.equal(await tls12Handshake(port), 'refused', 'a TLS 1.2 client still got in after minVersion was raised to TLSv1.3');
  });

  it('refuses TLS 1.2 after a reload raised minVersion with the development certificate (no files configured)', async () => {
    const listeners = (minVersion: 'TLSv1.2' | 'TLSv1.3') => ({ https: { host: '127.0.0.1', port: 0, tls: { minVersion } }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } });
    const gw = await startGateway({ listeners: listeners('TLSv1.2') });
    cleanup.push(() => gw.close());
    const port = gw.gateway.addresses().https.port;
    assert.equal(await tls12Handshake(port), 'TLSv1.2');
    await gw.writeConfig({ listeners: listeners('TLSv1.3') });
    assert.equal((await gw.gateway.reload('test')).applied, true);
    assert.equal(await tls12Handshake(port), 'refused');
  });
});
