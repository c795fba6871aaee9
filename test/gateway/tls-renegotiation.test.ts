/**
 * Client-initiated TLS 1.2 renegotiation is refused on the public listener: each one costs
 * the server a full handshake that the client can ask for over and over on one connection
 * (a CPU exhaustion lever, CVE-2011-1473), and Gatehouse never needs it (client certificates
 * are asked for in the first handshake). TLS 1.3 has no renegotiation at all.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

describe('TLS renegotiation', () => {
  let gw: TestGateway;
  let app: TestUpstream;
  before(async () => {
    app = await startUpstream();
    gw = await startGateway({ upstreams: { app: { url: app.url } }, routes: [{ id: 'app', path: '/', upstream: 'app', access: 'public' }] });
  });
  after(async () => { await gw.close(); await app.close(); });

  it('refuses a renegotiation a TLS 1.2 client asks for (handshake flooding on one connection)', async () => {
    const socket = connect({ host: '127.0.0.1', port: gw.gateway.addresses().https.port, servername: 'localhost', rejectUnauthorized: false, maxVersion: 'TLSv1.2' });
    socket.on('error', () => undefined);
    await new Promise<void>((r, j) => { socket.once('secureConnect', () => r()); socket.once('error', j); });
    assert.equal(socket.getProtocol(), 'TLSv1.2');
    const outcome = await new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve('no answer'), 2000);
      const done = (what: string) => { clearTimeout(timer); resolve(what); };
      socket.once('close', () => done('closed'));
      const asked = socket.renegotiate({ rejectUnauthorized: false }, (err) => done(err ? `refused: ${err.message}` : 'renegotiated'));
      if (!asked) done('refused locally');
    });
    socket.destroy();
    assert.notEqual(outcome, 'renegotiated', outcome);
  });
});
