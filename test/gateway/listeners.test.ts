/** Listener behaviour: redirect-only HTTP, TLS policy (judged by openssl), slowloris, connection cap, drain. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect as tlsConnect } from 'node:tls';
import { connect as netConnect } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { request } from 'undici';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

function rawHttp(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port }, () => s.write(payload));
    let data = '';
    s.on('data', (d: Buffer) => { data += d.toString('latin1'); });
    s.on('end', () => resolve(data));
    s.on('error', reject);
    setTimeout(() => { s.destroy(); resolve(data); }, 3000).unref();
  });
}

/**
 * Runs openssl asynchronously: the gateway under test lives in this process, so a
 * synchronous spawn would block the very event loop that must answer the handshake.
 */
function openssl(args: string[]): Promise<{ stdout: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', () => undefined);
    child.stdin.end('Q\n');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ stdout, code }); });
  });
}

/** Whether the server closes `socket` within `ms` (errors such as a reset count as closed). */
function closedWithin(socket: Duplex, ms: number): Promise<boolean> {
  return new Promise<boolean>((r) => {
    socket.once('close', () => r(true));
    socket.on('error', () => undefined);
    setTimeout(() => r(false), ms).unref();
  });
}

describe('listeners', () => {
  let gw: TestGateway;
  let app: TestUpstream;

  before(async () => {
    app = await startUpstream();
    gw = await startGateway({
      listeners: { https: { host: '127.0.0.1', port: 0 }, http: { enabled: true, host: '127.0.0.1', port: 0 }, ops: { host: '127.0.0.1', port: 0 } },
      limits: { headersTimeoutMs: 1000 },
      upstreams: { app: { url: app.url } },
      routes: [{ id: 'app', path: '/', upstream: 'app', access: 'public' }],
    });
  });
  after(async () => { await gw.close(); await app.close(); });

  it('redirects plain HTTP to HTTPS on the same host and path with 308', async () => {
    const res = await request(`${gw.httpUrl}/a/b?c=1`, { headers: { host: 'gate.example:80' } });
    assert.equal(res.statusCode, 308);
    assert.equal(res.headers.location, `https://gate.example:${gw.gateway.addresses().https.port}/a/b?c=1`);
    await res.body.dump();
    assert.equal(app.received.length, 0, 'plain HTTP never reaches an upstream');
  });

  it('the plain-HTTP listener logs one access line per request (redirect or refusal) with a request id, without the query string', async () => {
    const res = await request(`${gw.httpUrl}/login/cb?code=secret-code-123`, { headers: { host: 'gate.example' } });
    await res.body.dump();
    const id = res.headers['x-request-id'] as string;
    assert.ok(id, 'the redirect carries a request id');
    const redirect = gw.logs.lines.filter((l) => l.requestId === id);
    assert.equal(redirect.length, 1, 'one access line');
    const l = redirect[0]!;
    assert.deepEqual([l.type, l.listener, l.method, l.host, l.path, l.status], ['access', 'http', 'GET', 'gate.example', '/login/cb', 308]);
    assert.ok(!gw.logs.text().includes('secret-code-123'), 'the query string is not logged');

    const refused = await rawHttp(gw.gateway.addresses().http!.port, 'GET //evil.example/x HTTP/1.1\r\nHost: gate.example\r\nConnection: close\r\n\r\n');
    const refusedId = /x-request-id: (\S+)/i.exec(refused)?.[1];
    assert.ok(refusedId, 'the refusal carries a request id');
    assert.match(refused, /x-content-type-options: nosniff/i);
    assert.match(refused, /cache-control: no-store/i);
    assert.ok(refused.includes(`"requestId":"${refusedId}"`), 'and names it in the body');
    const line = gw.logs.lines.find((l) => l.requestId === refusedId);
    assert.equal(line?.status, 400);
    assert.equal(line?.code, 'ERR_REQUEST_MALFORMED');
  });

  it('the plain-HTTP listener answers what Node would refuse bare and unrecorded (no Host, oversized head, Content-Length with Transfer-Encoding, garbage, a head too slow, CONNECT, an unknown expectation) with its own code and request id, and logs one access line each', async () => {
    const port = gw.gateway.addresses().http!.port;
    const cases: [string, string, number, string][] = [
      ['no Host on HTTP/1.1', 'GET /x HTTP/1.1\r\n\r\n', 400, 'ERR_REQUEST_MALFORMED'],
      ['oversized head', `GET /x HTTP/1.1\r\nHost: gate.example\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`, 431, 'ERR_REQUEST_HEADERS_TOO_LARGE'],
      ['smuggling (CL + TE)', 'POST /x HTTP/1.1\r\nHost: gate.example\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'ERR_REQUEST_SMUGGLING'],
      ['garbage', 'HELLO THERE\r\n\r\n', 400, 'ERR_REQUEST_MALFORMED'],
      ['slowloris head', 'GET /x HTTP/1.1\r\nHost: gate.example\r\n', 408, 'ERR_REQUEST_TIMEOUT'],
      ['CONNECT tunnel', 'CONNECT upstream.example:443 HTTP/1.1\r\nHost: upstream.example:443\r\n\r\n', 405, 'ERR_REQUEST_METHOD_NOT_ALLOWED'],
      ['unknown expectation', 'GET /x HTTP/1.1\r\nHost: gate.example\r\nExpect: teapot\r\n\r\n', 417, 'ERR_REQUEST_EXPECTATION_FAILED'],
    ];
    for (const [name, payload, status, code] of cases) {
      const res = await rawHttp(port, payload);
      assert.match(res, new RegExp(`^HTTP/1\\.1 ${status} `), `${name}: ${res.slice(0, 80)}`);
      const id = /x-request-id: (\S+)/i.exec(res)?.[1];
      assert.ok(id, `${name}: the answer carries a request id`);
      assert.ok(res.includes(`"code":"${code}"`) && res.includes(`"requestId":"${id}"`), `${name}: ${res}`);
      assert.match(res, /connection: close/i, name);
      const lines = gw.logs.lines.filter((l) => l.requestId === id);
      assert.equal(lines.length, 1, `${name}: one access line`);
      assert.deepEqual([lines[0]!.listener, lines[0]!.status, lines[0]!.code], ['http', status, code], name);
    }
    assert.equal(app.received.length, 0, 'nothing reached the upstream');
  });

  it('an Expect: 100-continue upload to the plain-HTTP listener is redirected at once, without a 100 inviting the body', async () => {
    const res = await rawHttp(gw.gateway.addresses().http!.port, 'POST /upload HTTP/1.1\r\nHost: gate.example\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    assert.match(res, /^HTTP\/1\.1 308 /, res);
    assert.doesNotMatch(res, /100 Continue/);
  });

  it('a refused 12 kB Host on the plain-HTTP listener is logged cut to 261 characters, not whole (log volume amplification)', async () => {
    const host = `${'a'.repeat(63)}.`.repeat(192);
    const res = await rawHttp(gw.gateway.addresses().http!.port, `GET /x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.match(res, /^HTTP\/1\.1 400/);
    const id = /x-request-id: (\S+)/i.exec(res)?.[1];
    const line = gw.logs.lines.find((l) => l.requestId === id);
    assert.equal(line?.code, 'ERR_REQUEST_MALFORMED');
    assert.equal(line?.host, host.slice(0, 261));
  });

  it('refuses to redirect to a scheme-relative path (open redirect via //evil.example)', async () => {
    const res = await rawHttp(gw.gateway.addresses().http!.port, 'GET //evil.example/x HTTP/1.1\r\nHost: gate.example\r\nConnection: close\r\n\r\n');
    assert.match(res, /^HTTP\/1\.1 400/);
    assert.doesNotMatch(res, /evil\.example/);
  });

  it('refuses to redirect with a forged Host header carrying a path or userinfo', async () => {
    for (const host of ['evil.example/x', 'user@evil.example', 'evil.example\\@gate']) {
      const res = await rawHttp(gw.gateway.addresses().http!.port, `GET /x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.match(res, /^HTTP\/1\.1 400/, `host ${host}`);
    }
  });

  it('accepts TLS 1.2 with an AEAD forward-secret cipher and TLS 1.3 (openssl s_client)', async () => {
    const port = String(gw.gateway.addresses().https.port);
    const tls12 = await openssl(['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256', '-servername', 'localhost']);
    assert.match(tls12.stdout, /Cipher is ECDHE-ECDSA-AES128-GCM-SHA256/);
    const tls13 = await openssl(['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3', '-servername', 'localhost']);
    assert.match(tls13.stdout, /TLSv1\.3/);
  });

  it('refuses TLS 1.1 and TLS 1.2 ciphers without forward secrecy or AEAD (openssl s_client)', async () => {
    const port = String(gw.gateway.addresses().https.port);
    const tls11 = await openssl(['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0', '-servername', 'localhost']);
    assert.doesNotMatch(tls11.stdout, /Cipher is [A-Z]/);
    assert.match(tls11.stdout, /Cipher is \(NONE\)|no peer certificate available/, 'openssl reached the server and was refused');
    for (const cipher of ['AES128-SHA', 'ECDHE-ECDSA-AES128-SHA', 'AES128-GCM-SHA256']) {
      const r = await openssl(['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-cipher', cipher, '-servername', 'localhost']);
      assert.doesNotMatch(r.stdout, /Cipher is [A-Z]/, `cipher ${cipher} was accepted`);
      assert.match(r.stdout, /Cipher is \(NONE\)|no peer certificate available/, `openssl did not reach the server for ${cipher}`);
    }
  });

  it('closes a slowloris connection that never finishes its headers', async () => {
    const port = gw.gateway.addresses().https.port;
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    const started = Date.now();
    let answer = '';
    // Read what comes back: an unread socket never sees the server's FIN, so it never closes.
    socket.on('data', (d: Buffer) => { answer += d.toString(); });
    socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n');
    const drip = setInterval(() => { if (!socket.destroyed) socket.write('X-Drip: 1\r\n'); }, 200);
    const closed = await closedWithin(socket, 8000);
    clearInterval(drip);
    assert.equal(closed, true, 'connection still open after 8 s of dripping headers');
    assert.ok(Date.now() - started < 8000);
    assert.match(answer, /^HTTP\/1\.1 408/);
  });
  it('closes a TLS connection that completes its handshake and then never sends a byte (idle slowloris), within headersTimeoutMs', async () => {
    const port = gw.gateway.addresses().https.port;
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    const started = Date.now();
    socket.resume();
    const closed = await closedWithin(socket, 6000);
    socket.destroy();
    assert.equal(closed, true, 'an idle connection was still open after 6 s (headersTimeoutMs 1 s)');
    assert.ok(Date.now() - started < 6000);
  });

  it('closes a TCP connection that never starts the TLS handshake (connection-hoarding slowloris), within headersTimeoutMs, and logs a TLS failure', async () => {
    const port = gw.gateway.addresses().https.port;
    const socket = netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.resume();
    const closed = await closedWithin(socket, 6000);
    socket.destroy();
    assert.equal(closed, true, 'a connection without a handshake was still open after 6 s (headersTimeoutMs 1 s)');
    const line = gw.logs.lines.find((l) => l.type === 'tls');
    assert.equal(line?.code, 'ERR_TLS_HANDSHAKE_FAILED', 'logged as a TLS failure, not as a malformed HTTP request');
    assert.match(String(line?.detail), /ERR_TLS_HANDSHAKE_TIMEOUT/);
  });

  it('closes a kept-alive connection that sends nothing after its first request, within keepAliveTimeoutMs', async () => {
    const port = gw.gateway.addresses().https.port;
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    let answer = '';
    socket.on('data', (d: Buffer) => { answer += d.toString(); });
    socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const closed = await closedWithin(socket, 10_000);
    socket.destroy();
    assert.match(answer, /^HTTP\/1\.1 200/);
    assert.equal(closed, true, 'an idle kept-alive connection was still open after 10 s (keepAliveTimeoutMs default 5 s)');
  });
});

describe('connection limit', () => {
  it('closes connections beyond limits.maxConnections and keeps serving the ones it accepted', async () => {
    const app = await startUpstream();
    const gw = await startGateway({ limits: { maxConnections: 3 }, upstreams: { app: { url: app.url } }, routes: [{ id: 'app', path: '/', upstream: 'app', access: 'public' }] });
    const port = gw.gateway.addresses().https.port;
    const open = async () => {
      const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
      s.on('error', () => undefined);
      const ok = await new Promise<boolean>((r) => { s.once('secureConnect', () => r(true)); s.once('close', () => r(false)); });
      return { s, ok };
    };
    const held = [await open(), await open(), await open()];
    assert.deepEqual(held.map((h) => h.ok), [true, true, true]);
    const fourth = await open();
    assert.equal(fourth.ok, false, 'a fourth connection was accepted over maxConnections: 3');
    // The accepted ones still work.
    const answer = await new Promise<string>((r) => {
      let d = '';
      held[0]!.s.on('data', (c: Buffer) => { d += c; if (d.includes('\r\n\r\n')) r(d); });
      held[0]!.s.write('GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n');
    });
    assert.match(answer, /^HTTP\/1\.1 200/);
    for (const h of [...held, fourth]) h.s.destroy();
    await gw.close();
    await app.close();
  });
});

describe('graceful shutdown', () => {
  it('lets an in-flight request finish, reports not ready while draining, and refuses new connections', async () => {
    let release: () => void = () => undefined;
    const held: Server = createServer((_req, res) => { release = () => res.end('finished'); });
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    const gw = await startGateway({
      limits: { shutdownGraceMs: 5000 },
      upstreams: { held: { url: `http://127.0.0.1:${(held.address() as AddressInfo).port}` } },
      routes: [{ id: 'held', path: '/', upstream: 'held', access: 'public' }],
    });
    const port = gw.gateway.addresses().https.port;
    const inflight = gw.fetch('/slow');
    await new Promise((r) => setTimeout(r, 150));
    const stopping = gw.gateway.stop();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(gw.gateway.draining, true);
    const refused = await new Promise<boolean>((r) => {
      const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
      s.once('secureConnect', () => { s.destroy(); r(false); });
      s.once('error', () => r(true));
    });
    assert.equal(refused, true, 'a new connection was accepted while draining');
    release();
    const res = await inflight;
    assert.equal(res.status, 200);
    assert.equal(res.body, 'finished');
    await stopping;
    held.closeAllConnections();
    held.close();
  });
});
