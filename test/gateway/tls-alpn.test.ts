/**
 * Strict ALPN on the public listener (RFC 7301 §3.2): a TLS client that offers application
 * protocols but not HTTP/1.x is refused in the handshake with no_application_protocol rather
 * than having what it sends read as HTTP/1.1: an h2-only client, or another protocol's client
 * (IMAP, FTP) steered to this host by someone on the path, the cross-protocol use ALPACA
 * describes. Clients offering no ALPN are served. Node's https.Server gives this by default
 * (ALPNProtocols ['http/1.1']); these tests keep it so when the listener's options change
 * (an ALPNCallback, h2) and across the context rebuilt by a reload.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:tls';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

/** A real TLS handshake offering `protocols`: the protocol selected (false: none), or the error. */
function handshake(port: number, protocols: string[] | undefined): Promise<{ ok: true; alpn: string | false } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ...(protocols ? { ALPNProtocols: protocols } : {}) }, () => {
      resolve({ ok: true, alpn: socket.alpnProtocol ?? false });
      socket.destroy();
    });
    socket.on('error', (err) => resolve({ ok: false, error: err.message }));
  });
}

/** OpenSSL's own client offering `alpn` (external truth): its output. */
function opensslAlpn(port: number, alpn: string): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-alpn', alpn], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.stdin.end('Q\n');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('close', () => { clearTimeout(timer); resolve(out); });
  });
}

describe('ALPN on the public listener', () => {
  let gw: TestGateway;
  let app: TestUpstream;
  let port: number;
  before(async () => {
    app = await startUpstream();
    gw = await startGateway({ upstreams: { app: { url: app.url } }, routes: [{ id: 'app', path: '/', upstream: 'app', access: 'public' }] });
    port = gw.gateway.addresses().https.port;
  });
  after(async () => { await gw.close(); await app.close(); });

  it('refuses an h2-only client in the handshake instead of parsing its HTTP/2 preface as HTTP/1.1', async () => {
    const r = await handshake(port, ['h2']);
    assert.equal(r.ok, false, `an h2-only client was accepted (${JSON.stringify(r)})`);
    assert.match(r.ok ? '' : r.error, /no application protocol/);
  });

  it('refuses another protocol\'s client (IMAP, as OpenSSL\'s s_client offers it) with no_application_protocol', async () => {
    const out = await opensslAlpn(port, 'imap');
    assert.match(out, /no application protocol/, out);
    assert.equal((await handshake(port, ['ftp'])).ok, false);
  });

  it('selects http/1.1 for a client offering h2 and http/1.1, and serves it', async () => {
    assert.deepEqual(await handshake(port, ['h2', 'http/1.1']), { ok: true, alpn: 'http/1.1' });
    assert.equal((await gw.fetch('/')).status, 200);
  });

  it('serves a client that offers no ALPN', async () => {
    assert.deepEqual(await handshake(port, undefined), { ok: true, alpn: false });
  });

  it('keeps strict ALPN after the listener\'s TLS context is rebuilt by a reload', async () => {
    await gw.writeConfig({ listeners: { https: { host: '127.0.0.1', port: 0, tls: { minVersion: 'TLSv1.3' } }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } }, upstreams: { app: { url: app.url } }, routes: [{ id: 'app', path: '/', upstream: 'app', access: 'public' }] });
    assert.equal((await gw.gateway.reload('test')).applied, true);
    assert.equal((await handshake(port, ['h2'])).ok, false);
    assert.deepEqual(await handshake(port, ['http/1.1']), { ok: true, alpn: 'http/1.1' });
  });
});
