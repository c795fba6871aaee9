/**
 * Request heads that Node's HTTP parser refuses before they become requests (a header section
 * over maxHeaderBytes, Content-Length with Transfer-Encoding, a raw CR in a header value, a head
 * slower than headersTimeoutMs) are answered with a request id. Each such answer has one
 * `gateway.request` audit record, one access line and its count in the metrics, like every
 * other early exit; a request in flight keeps its one record, and bytes refused behind a complete
 * request get their own answer and record after its answer. Real TLS client, real gateway
 * composed with the audit log.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { request } from 'undici';
import { queryAudit, viewRecord, type AuditRecordView } from '../../src/audit/query.ts';
import type { AuditExtension } from '../../src/audit/extension.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import type { Store } from '../../src/store/types.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { rawTlsRequest, responsesOf, statusOf } from '../support/raw-tls.ts';

const H = 'Host: localhost\r\n';
const idOf = (response: string): string => /\r\nx-request-id: ([^\r]+)/i.exec(response)?.[1] ?? '';

/** Whether `response` is one whole response: a head and exactly `content-length` body bytes, nothing after. */
function isComplete(response: string): boolean {
  const end = response.indexOf('\r\n\r\n');
  const length = /\r\ncontent-length: (\d+)/i.exec(response.slice(0, end))?.[1];
  return end > 0 && length !== undefined && response.length - end - 4 === Number(length);
}

describe('request heads refused by the HTTP parser, in the audit log', () => {
  let gw: TestGateway;
  let app: TestUpstream;
  let store: Store;
  let port: number;

  before(async () => {
    app = await startUpstream();
    gw = await startGateway({
      audit: { fsync: false },
      limits: { headersTimeoutMs: 1000 },
      upstreams: { app: { url: app.url } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }],
    }, { compose: true });
    store = await openStoreFromConfig(gw.gateway.config);
    port = gw.gateway.addresses().https.port;
  });
  after(async () => {
    await store?.close();
    // The upstream exchange of the broken upload below still waits for its body; closed first
    // so that the gateway's stop does not wait for it (up to the route's totalMs).
    app?.server.closeAllConnections();
    await gw?.close();
    await app?.close();
  });

  async function recordsOf(requestId: string): Promise<AuditRecordView[]> {
    await (gw.gateway.extensions.find((e) => e.name === 'audit') as AuditExtension).writer!.flush();
    const out: AuditRecordView[] = [];
    for await (const r of queryAudit(store, { requestId })) out.push(viewRecord(r));
    return out;
  }
  const accessLines = (requestId: string) => gw.logs.lines.filter((l) => l.type === 'access' && l.requestId === requestId);
  const metric = async (series: string): Promise<number> => {
    const text = await (await request(`${gw.opsUrl}/metrics`)).body.text();
    return Number(text.split('\n').find((l) => l.startsWith(`${series} `))?.split(' ')[1] ?? 0);
  };

  /** The one record of a refused head: what is known (code, status, peer, stage), nothing invented. */
  async function assertRecordedOnce(response: string, status: number, code: string): Promise<void> {
    const requestId = idOf(response);
    assert.ok(requestId, `the answer carries a request id:\n${response}`);
    const records = await recordsOf(requestId);
    assert.equal(records.length, 1, `one record for ${requestId}: ${JSON.stringify(records)}`);
    const r = records[0]!;
    assert.deepEqual([r.event, r.outcome, r.clientAddress, r.resource, r.actor.kind], ['gateway.request', status >= 500 ? 'error' : 'failure', '127.0.0.1', null, 'anonymous']);
    const d = r.details as Record<string, unknown>;
    assert.deepEqual({ status: d.status, errorCode: d.errorCode, stage: d.stage, method: d.method, path: d.path, clientAddress: d.clientAddress },
      { status, errorCode: code, stage: 'parse', method: '', path: '', clientAddress: '127.0.0.1' });
    const lines = accessLines(requestId);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.deepEqual([lines[0]!.status, lines[0]!.code, lines[0]!.stage, lines[0]!.route], [status, code, 'parse', 'none']);
  }

  for (const [attack, head, status, code] of [
    ['a header section over maxHeaderBytes (20 KB)', `GET /app/x HTTP/1.1\r\n${H}x-big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'ERR_REQUEST_HEADERS_TOO_LARGE'],
    ['Content-Length with Transfer-Encoding (request smuggling probe)', `POST /app/x HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400, 'ERR_REQUEST_SMUGGLING'],
    ['a raw CR inside a header value (header injection)', `GET /app/x HTTP/1.1\r\n${H}x-a: b\rc\r\n\r\n`, 400, 'ERR_REQUEST_MALFORMED'],
    // Every later TLS record of the head fails the parser again while the answer waits for its record.
    ['a 300 KB header section arriving in many TLS records', `GET /app/x HTTP/1.1\r\n${H}x-big: ${'a'.repeat(300_000)}\r\n\r\n`, 431, 'ERR_REQUEST_HEADERS_TOO_LARGE'],
  ] as const) {
    it(`answers ${attack} with ${status} ${code}, recorded once in the audit log (stage parse, peer address, no method or path), and reaches no upstream`, async () => {
      const reached = app.received.length;
      const refused = await metric(`gatehouse_http_requests_total{route="none",method="-",status="${status}"}`);
      const errors = await metric(`gatehouse_http_errors_total{route="none",code="${code}"}`);
      const response = await rawTlsRequest(port, head);
      assert.equal(statusOf(response), status, response);
      assert.ok(isComplete(response), `the whole answer arrived:\n${response}`);
      assert.equal(JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)).error.code, code);
      assert.match(response, /\r\nconnection: close\r\n/i);
      await assertRecordedOnce(response, status, code);
      assert.equal(await metric(`gatehouse_http_requests_total{route="none",method="-",status="${status}"}`), refused + 1);
      assert.equal(await metric(`gatehouse_http_errors_total{route="none",code="${code}"}`), errors + 1);
      assert.equal(app.received.length, reached);
    });
  }

  it('answers a header section slower than headersTimeoutMs (slowloris) with 408 ERR_REQUEST_TIMEOUT, recorded once in the audit log', async () => {
    const response = await new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
      let received = '';
      socket.once('secureConnect', () => socket.write(`GET /app/x HTTP/1.1\r\n${H}`));
      socket.on('data', (d: Buffer) => { received += d.toString('latin1'); });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(received));
      setTimeout(() => socket.destroy(), 5000).unref();
    });
    assert.equal(statusOf(response), 408, response);
    assert.ok(isComplete(response), response);
    await assertRecordedOnce(response, 408, 'ERR_REQUEST_TIMEOUT');
  });

  it('a parser error inside the body of a request in flight stays that request\'s one record (no second record at stage parse)', async () => {
    const parseLines = () => gw.logs.lines.filter((l) => l.type === 'access' && l.stage === 'parse').length;
    const before = parseLines();
    const response = await rawTlsRequest(port, `POST /app/up HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nZZ-not-a-chunk-size\r\n`);
    assert.equal(statusOf(response), 400, response);
    const requestId = idOf(response);
    const records = await recordsOf(requestId);
    assert.equal(records.length, 1, JSON.stringify(records));
    const d = records[0]!.details as Record<string, unknown>;
    assert.deepEqual([d.routeId, d.method, d.errorCode], ['app', 'POST', 'ERR_REQUEST_MALFORMED']);
    assert.notEqual(d.stage, 'parse');
    assert.equal(accessLines(requestId).length, 1);
    assert.equal(parseLines(), before, 'no access line for a refused head besides the request\'s own');
  });

  it('a request whose answer is held for its audit record still gets it whole when bytes behind it fail the parser, then one 400 for those bytes, and the connection closes', async () => {
    for (let i = 0; i < 5; i++) {
      // 100 KB behind the request: the parser fails again on every later TLS record while the answer waits.
      const response = await rawTlsRequest(port, `GET /app/x HTTP/1.1\r\n${H}\r\n\x01garbage\r\n\r\n${'z'.repeat(100_000)}`);
      const { responses, rest } = responsesOf(response);
      assert.deepEqual(responses.map((r) => r.status), [200, 400], `the request's whole answer, then the refusal's (round ${i}):\n${response}`);
      assert.equal(rest, '', response);
      assert.equal(responses[1]!.headers.connection, 'close');
      assert.equal((await recordsOf(responses[0]!.headers['x-request-id']!)).length, 1);
      assert.equal((await recordsOf(responses[1]!.headers['x-request-id']!)).length, 1);
    }
  });
});
