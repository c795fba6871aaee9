/**
 * Bytes Node's HTTP parser refuses, pipelined on a keep-alive connection behind requests that
 * are complete. The parser fails on them while those requests are still being answered; the
 * failure belongs to the bytes, not to the requests before them. Each complete request gets
 * its real upstream answer (recorded as usual), then the connection gets one 400 for the
 * refused bytes with `Connection: close` — recorded as a parser refusal (stage `parse`) — and
 * closes. Nothing of the refused bytes reaches an upstream. A request whose own body is broken
 * is not complete: it is refused and its upstream request aborted, as before. Real TLS client
 * sending raw bytes, real gateway composed with the audit log, real upstream.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { startAuditedGateway, type AuditedGateway } from '../support/audited-gateway.ts';
import { rawTlsExchange, responsesOf, type WireResponse } from '../support/raw-tls.ts';

const H = 'Host: localhost\r\n';
const GARBAGE = '\x01garbage\r\n\r\n';

describe('garbage pipelined behind complete requests on a kept-alive connection', () => {
  let t: AuditedGateway;
  let port: number;
  /** Every request head the upstream saw (also those whose body never ended), and whether it closed before its body was complete. */
  const heads: { url: string; method: string; cutShort: boolean }[] = [];

  before(async () => {
    t = await startAuditedGateway();
    port = t.port;
    t.app.server.on('request', (req: IncomingMessage) => {
      const head = { url: req.url!, method: req.method!, cutShort: false };
      heads.push(head);
      req.once('close', () => { head.cutShort = !req.complete; });
    });
  });
  after(async () => { await t?.close(); });
  const recordsOf = (requestId: string) => t.recordsOf(requestId);
  /** The upstream's request heads under one test's own path prefix (a request of an earlier test may still arrive). */
  const headsOf = (prefix: string) => heads.filter((h) => h.url.startsWith(prefix));
  const accessLines = (requestId: string) => t.accessLines(requestId);

  /** A forwarded request's answer: the upstream's own echo, with one record and one access line. */
  async function assertForwarded(res: WireResponse | undefined, method: string, url: string): Promise<void> {
    assert.ok(res, `an answer for ${method} ${url}`);
    assert.equal(res.status, 200, JSON.stringify(res));
    const echo = JSON.parse(res.body) as { method: string; url: string };
    assert.deepEqual([echo.method, echo.url], [method, url], 'the upstream\'s own answer');
    const requestId = res.headers['x-request-id']!;
    const records = await recordsOf(requestId);
    assert.equal(records.length, 1, JSON.stringify(records));
    const d = records[0]!.details as Record<string, unknown>;
    assert.deepEqual([d.status, d.routeId, d.method, d.errorCode], [200, 'app', method, undefined]);
    const lines = accessLines(requestId);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.deepEqual([lines[0]!.status, lines[0]!.route], [200, 'app']);
  }

  /** The last answer on the connection: the parser's refusal of the bytes, recorded as such (stage parse, no method or path). */
  async function assertParserRefusal(res: WireResponse | undefined, code: string): Promise<void> {
    assert.ok(res, 'an answer for the refused bytes');
    assert.equal(res.status, 400, JSON.stringify(res));
    assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, code);
    assert.equal(res.headers.connection, 'close');
    const requestId = res.headers['x-request-id']!;
    const records = await recordsOf(requestId);
    assert.equal(records.length, 1, JSON.stringify(records));
    const d = records[0]!.details as Record<string, unknown>;
    assert.deepEqual({ status: d.status, errorCode: d.errorCode, stage: d.stage, method: d.method, path: d.path },
      { status: 400, errorCode: code, stage: 'parse', method: '', path: '' });
    const lines = accessLines(requestId);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.deepEqual([lines[0]!.status, lines[0]!.code, lines[0]!.stage, lines[0]!.route], [400, code, 'parse', 'none']);
  }

  it('answers a GET followed by pipelined non-HTTP bytes with the upstream\'s own 200, then 400 ERR_REQUEST_MALFORMED with Connection: close, and closes; the bytes reach no upstream', async () => {
    const { raw, closedByServer } = await rawTlsExchange(port, `GET /app/t1-first HTTP/1.1\r\n${H}\r\n${GARBAGE}`);
    const { responses, rest } = responsesOf(raw);
    assert.equal(responses.length, 2, raw);
    assert.equal(rest, '', raw);
    await assertForwarded(responses[0], 'GET', '/app/t1-first');
    assert.notEqual(responses[0]!.headers.connection, 'close', 'the connection stays open for the answer after it');
    await assertParserRefusal(responses[1], 'ERR_REQUEST_MALFORMED');
    assert.ok(closedByServer, 'the gateway closed the connection');
    assert.deepEqual(headsOf('/app/t1-').map((h) => h.url), ['/app/t1-first']);
  });

  it('answers pipelined GETs and a POST with a complete body, then non-HTTP bytes: the three upstream answers in order, then 400 with Connection: close', async () => {
    const { raw, closedByServer } = await rawTlsExchange(port,
      `GET /app/t2-one HTTP/1.1\r\n${H}\r\nGET /app/t2-two HTTP/1.1\r\n${H}\r\nPOST /app/t2-three HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello${GARBAGE}`);
    const { responses } = responsesOf(raw);
    assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 400], raw);
    await assertForwarded(responses[0], 'GET', '/app/t2-one');
    await assertForwarded(responses[1], 'GET', '/app/t2-two');
    await assertForwarded(responses[2], 'POST', '/app/t2-three');
    assert.equal((JSON.parse(responses[2]!.body) as { body: string }).body, 'hello', 'the whole body was forwarded');
    await assertParserRefusal(responses[3], 'ERR_REQUEST_MALFORMED');
    assert.ok(closedByServer);
    assert.deepEqual(headsOf('/app/t2-').map((h) => h.url), ['/app/t2-one', '/app/t2-two', '/app/t2-three']);
  });

  it('answers a GET followed by a pipelined head with Content-Length and Transfer-Encoding (request smuggling) with the GET\'s 200, then 400 ERR_REQUEST_SMUGGLING; the smuggled request and what follows it reach no upstream', async () => {
    const { raw, closedByServer } = await rawTlsExchange(port,
      `GET /app/t3-first HTTP/1.1\r\n${H}\r\nPOST /app/t3-smuggled HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /app/t3-behind HTTP/1.1\r\n${H}\r\n`);
    const { responses } = responsesOf(raw);
    assert.deepEqual(responses.map((r) => r.status), [200, 400], raw);
    await assertForwarded(responses[0], 'GET', '/app/t3-first');
    await assertParserRefusal(responses[1], 'ERR_REQUEST_SMUGGLING');
    assert.ok(closedByServer);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(headsOf('/app/t3-').map((h) => h.url), ['/app/t3-first']);
  });

  it('answers a GET with Connection: close followed by non-HTTP bytes with the upstream\'s own 200 only, and closes', async () => {
    const { raw, closedByServer } = await rawTlsExchange(port, `GET /app/t4-last HTTP/1.1\r\n${H}Connection: close\r\n\r\n${GARBAGE}`);
    const { responses, rest } = responsesOf(raw);
    assert.equal(responses.length, 1, raw);
    assert.equal(rest, '', raw);
    await assertForwarded(responses[0], 'GET', '/app/t4-last');
    assert.equal(responses[0]!.headers.connection, 'close');
    assert.ok(closedByServer);
    assert.deepEqual(headsOf('/app/t4-').map((h) => h.url), ['/app/t4-last']);
  });

  it('a chunked upload pipelined behind a GET whose body breaks (malformed chunk size) is not taken as complete: the GET gets its 200, the upload 400 ERR_REQUEST_MALFORMED with its own request id, and its upstream request is aborted', async () => {
    const { raw, closedByServer } = await rawTlsExchange(port,
      `GET /app/t5-first HTTP/1.1\r\n${H}\r\nPOST /app/t5-upload HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nZZ-not-a-chunk-size\r\n`);
    const { responses } = responsesOf(raw);
    assert.deepEqual(responses.map((r) => r.status), [200, 400], raw);
    await assertForwarded(responses[0], 'GET', '/app/t5-first');
    const refused = responses[1]!;
    assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, 'ERR_REQUEST_MALFORMED');
    assert.equal(refused.headers.connection, 'close');
    const records = await recordsOf(refused.headers['x-request-id']!);
    assert.equal(records.length, 1, JSON.stringify(records));
    const d = records[0]!.details as Record<string, unknown>;
    assert.deepEqual([d.status, d.routeId, d.method, d.errorCode], [400, 'app', 'POST', 'ERR_REQUEST_MALFORMED']);
    assert.notEqual(d.stage, 'parse', 'the upload\'s own record, not a parser refusal');
    assert.ok(closedByServer);
    // Forwarded while its body streamed, the upload is aborted: either before undici sent it, or
    // cut short at the upstream (whose side closes within a turn or two); never received whole.
    const deadline = Date.now() + 1000;
    const uploads = () => headsOf('/app/t5-upload');
    while (uploads().some((h) => !h.cutShort) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(uploads().filter((h) => !h.cutShort), [], 'an upload still open at the upstream');
    assert.deepEqual(t.app.received.filter((r) => r.url.startsWith('/app/t5-')).map((r) => r.url), ['/app/t5-first'], 'the broken body never reached the upstream as complete');
  });

  it('still refuses a first request whose own head has Content-Length and Transfer-Encoding, forwarding neither it nor the GET pipelined behind it (regression guard)', async () => {
    const { raw, closedByServer } = await rawTlsExchange(port,
      `POST /app/t6-smuggled HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /app/t6-behind HTTP/1.1\r\n${H}\r\n`);
    const { responses } = responsesOf(raw);
    assert.deepEqual(responses.map((r) => r.status), [400], raw);
    await assertParserRefusal(responses[0], 'ERR_REQUEST_SMUGGLING');
    assert.ok(closedByServer);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(headsOf('/app/t6-').map((h) => h.url), []);
  });
});
