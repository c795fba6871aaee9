/**
 * Request lines naming an HTTP version other than 1.0 and 1.1. Node's parser passes some of
 * them on as requests (`HTTP/2.0`, `HTTP/0.9`, a request line with no version at all), which
 * were forwarded upstream as HTTP/1.1, and refuses others itself (`HTTP/1.2`, `HTTP/3.0`, the
 * HTTP/2 prior-knowledge preface `PRI * HTTP/2.0`). Each is answered 505
 * ERR_REQUEST_HTTP_VERSION_UNSUPPORTED with `Connection: close`, recorded like every other early
 * exit (access line, audit record) and never forwarded. Real TLS client sending raw bytes,
 * real gateway composed with the audit log, real upstream.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import type { TestGateway } from '../support/gateway.ts';
import { startAuditedGateway, type AuditedGateway } from '../support/audited-gateway.ts';
import { rawTlsExchange, responsesOf } from '../support/raw-tls.ts';

const H = 'Host: localhost\r\n';
const CODE = 'ERR_REQUEST_HTTP_VERSION_UNSUPPORTED';
/** What an HTTP/2 client with prior knowledge sends first (RFC 9113 §3.4): the preface, then its SETTINGS frame (empty). */
const H2_PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

describe('request lines with an HTTP version other than 1.0 and 1.1', () => {
  let t: AuditedGateway;
  let gw: TestGateway;
  let port: number;
  const heads: string[] = [];

  before(async () => {
    t = await startAuditedGateway();
    ({ gw, port } = t);
    t.app.server.on('request', (req: IncomingMessage) => heads.push(req.url!));
  });
  after(async () => { await t?.close(); });
  const recordsOf = (requestId: string) => t.recordsOf(requestId);

  /** One 505 on the connection, which then closes; one record and one access line at `stage`; nothing upstream. */
  async function assertRefused(payload: string | Buffer, stage: string, method: string): Promise<void> {
    const before = heads.length;
    const { raw, closedByServer } = await rawTlsExchange(port, payload);
    const { responses, rest } = responsesOf(raw);
    assert.deepEqual(responses.map((r) => r.status), [505], raw);
    assert.equal(rest, '', raw);
    const res = responses[0]!;
    assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, CODE);
    assert.equal(res.headers.connection, 'close');
    assert.ok(closedByServer, 'the gateway closed the connection');
    const requestId = res.headers['x-request-id']!;
    const records = await recordsOf(requestId);
    assert.equal(records.length, 1, JSON.stringify(records));
    const d = records[0]!.details as Record<string, unknown>;
    assert.deepEqual({ status: d.status, errorCode: d.errorCode, stage: d.stage, method: d.method, routeId: d.routeId },
      { status: 505, errorCode: CODE, stage, method, routeId: undefined });
    assert.equal(records[0]!.outcome, 'error');
    const lines = gw.logs.lines.filter((l) => l.type === 'access' && l.requestId === requestId);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.deepEqual([lines[0]!.status, lines[0]!.code, lines[0]!.stage, lines[0]!.route], [505, CODE, stage, 'none']);
    // A forwarded request would arrive after the answer went out: give it time to.
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(heads.slice(before), [], 'nothing reached the upstream');
  }

  // Passed on by Node's parser as requests: refused first thing in accept, before routing or authentication.
  it('refuses a GET with HTTP/2.0 in its request line (an HTTP/1 parser\'s view of h2) with 505, never forwarding it as HTTP/1.1', async () => {
    await assertRefused(`GET /app/v20 HTTP/2.0\r\n${H}\r\n`, 'accept', 'GET');
  });
  it('refuses a GET with HTTP/0.9 in its request line with 505, never forwarding it', async () => {
    await assertRefused(`GET /app/v09 HTTP/0.9\r\n${H}\r\n`, 'accept', 'GET');
  });
  it('refuses an HTTP/0.9-style request line without a version with 505, never forwarding it', async () => {
    await assertRefused('GET /app/simple\r\n\r\n', 'accept', 'GET');
  });
  it('refuses HTTP/2.0 with Connection: keep-alive and a GET pipelined behind it with one 505, forwarding neither', async () => {
    await assertRefused(`GET /app/v20k HTTP/2.0\r\n${H}Connection: keep-alive\r\n\r\nGET /app/behind-v20 HTTP/1.1\r\n${H}\r\n`, 'accept', 'GET');
  });

  // Refused by Node's parser itself: answered through the parser-refusal path (stage parse).
  for (const [name, line] of [['HTTP/1.2', 'GET /app/v12 HTTP/1.2'], ['HTTP/3.0', 'GET /app/v30 HTTP/3.0'], ['HTTP/9.9', 'GET /app/v99 HTTP/9.9']] as const) {
    it(`refuses a request line with ${name} with 505 at stage parse, never forwarding it`, async () => {
      await assertRefused(`${line}\r\n${H}\r\n`, 'parse', '');
    });
  }
  it('refuses the HTTP/2 prior-knowledge preface (PRI * HTTP/2.0, SM, a SETTINGS frame) on the TLS listener with 505 at stage parse', async () => {
    await assertRefused(H2_PREFACE, 'parse', '');
  });

  it('refuses a real HTTP/2 client speaking prior knowledge over TLS without ALPN (node:http2): one 505 recorded at stage parse, a protocol error for the client, nothing forwarded', async () => {
    const before = heads.length;
    const from = gw.logs.lines.length;
    const outcome = await new Promise<string>((resolve) => {
      // No ALPN offered, so the handshake succeeds (an h2-only ALPN offer is refused in it: tls-alpn.test.ts).
      const session = http2Connect(`https://localhost:${port}`, { createConnection: () => tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' }) });
      session.on('error', () => undefined);
      const req = session.request({ ':path': '/app/h2' });
      req.on('response', (h) => { resolve(`response ${String(h[':status'])}`); session.destroy(); });
      req.on('error', (e: NodeJS.ErrnoException) => { resolve(e.code ?? e.message); session.destroy(); });
      req.end();
    });
    // An HTTP/1.1 answer is not HTTP/2 frames: a protocol error (ERR_HTTP2_ERROR), or the stream cut with the connection.
    assert.doesNotMatch(outcome, /^response/, 'the client gets no HTTP/2 response');
    await new Promise((r) => setTimeout(r, 150));
    const lines = gw.logs.lines.slice(from).filter((l) => l.type === 'access');
    assert.deepEqual(lines.map((l) => [l.status, l.code, l.stage]), [[505, CODE, 'parse']]);
    assert.equal((await recordsOf(String(lines[0]!.requestId))).length, 1);
    assert.deepEqual(heads.slice(before), []);
  });

  it('still forwards HTTP/1.0 and HTTP/1.1 requests (regression guard)', async () => {
    for (const version of ['1.0', '1.1']) {
      const { raw } = await rawTlsExchange(port, `GET /app/v${version} HTTP/${version}\r\n${H}Connection: close\r\n\r\n`);
      assert.deepEqual(responsesOf(raw).responses.map((r) => r.status), [200], raw);
    }
    assert.deepEqual(heads.slice(-2), ['/app/v1.0', '/app/v1.1']);
  });
});
