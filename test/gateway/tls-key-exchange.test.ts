/**
 * Key exchange on the public listener: a TLS 1.3 client that offers the hybrid post-quantum
 * group X25519MLKEM768 (every current browser offers it first) gets it. The listener's group
 * list named only classical curves, which held every handshake to X25519 although Node's own
 * default negotiates the hybrid: traffic recorded today could be decrypted once a quantum
 * computer breaks X25519 ("harvest now, decrypt later"). Classical clients keep working.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createSecureContext, type ConnectionOptions } from 'node:tls';
import { startGateway, type TestGateway } from '../support/gateway.ts';

/** The key exchange a real TLS client ends up with, or the handshake error. */
function keyExchange(port: number, options: ConnectionOptions): Promise<{ group: string; protocol: string } | { error: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ...options }, () => {
      const info = socket.getEphemeralKeyInfo() as { name?: string };
      resolve({ group: info.name ?? '', protocol: socket.getProtocol() ?? '' });
      socket.destroy();
    });
    socket.on('error', (err) => resolve({ error: err.message }));
  });
}

const hasMlKem = (() => { try { createSecureContext({ ecdhCurve: 'X25519MLKEM768' }); return true; } catch { return false; } })();

describe('key exchange groups on the public listener', { skip: hasMlKem ? false : 'this OpenSSL has no ML-KEM (before 3.5)' }, () => {
  let gw: TestGateway;
  let port: number;
  before(async () => {
    gw = await startGateway();
    port = gw.gateway.addresses().https.port;
  });
  after(() => gw.close());

  it('negotiates hybrid post-quantum X25519MLKEM768 with a client offering it, not classical X25519 (harvest now, decrypt later)', async () => {
    assert.deepEqual(await keyExchange(port, {}), { group: 'X25519MLKEM768', protocol: 'TLSv1.3' });
  });

  it('serves a client that offers only X25519MLKEM768', async () => {
    assert.deepEqual(await keyExchange(port, { ecdhCurve: 'X25519MLKEM768' }), { group: 'X25519MLKEM768', protocol: 'TLSv1.3' });
  });

  it('still serves classical clients: X25519 or P-256 on TLS 1.3, ECDHE on TLS 1.2', async () => {
    assert.deepEqual(await keyExchange(port, { ecdhCurve: 'X25519' }), { group: 'X25519', protocol: 'TLSv1.3' });
    assert.deepEqual(await keyExchange(port, { ecdhCurve: 'P-256' }), { group: 'prime256v1', protocol: 'TLSv1.3' });
    assert.deepEqual(await keyExchange(port, { maxVersion: 'TLSv1.2' }), { group: 'X25519', protocol: 'TLSv1.2' });
  });

  it('keeps the hybrid group after a reload rebuilt the listener\'s TLS context', async () => {
    await gw.writeConfig({ listeners: { https: { host: '127.0.0.1', port: 0, tls: { minVersion: 'TLSv1.3' } }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } } });
    assert.equal((await gw.gateway.reload('test')).applied, true);
    assert.deepEqual(await keyExchange(port, {}), { group: 'X25519MLKEM768', protocol: 'TLSv1.3' });
  });
});
