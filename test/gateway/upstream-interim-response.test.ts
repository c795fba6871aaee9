/**
 * An upstream that sends an interim 1xx response (103 Early Hints, 102 Processing) before its
 * final answer: the client gets the final response. undici hands every head to the forwarder,
 * 1xx included; written as the response's own status, the final head then failed with
 * "headers already sent" and the client got an empty, cut connection.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { startRawUpstream, type RawUpstream } from '../support/raw-upstream.ts';
import { rawTlsRequest } from '../support/raw-tls.ts';

const FINAL = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfinal';
const ANSWERS: Record<string, string> = {
  '/early-hints': 'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\nSet-Cookie: early=1\r\n\r\n' + FINAL,
  '/processing': 'HTTP/1.1 102 Processing\r\n\r\n' + FINAL,
};

describe('upstream sending an interim 1xx response', () => {
  let gw: TestGateway;
  let upstream: RawUpstream;

  before(async () => {
    upstream = await startRawUpstream((socket) => {
      socket.once('data', (d: Buffer) => {
        const path = /^GET (\S+)/.exec(d.toString('latin1'))?.[1] ?? '';
        const [interim, final] = ANSWERS[path]!.split(/(?=HTTP\/1\.1 200)/);
        // The final head comes a moment later, as from an application still working.
        socket.write(interim!);
        setTimeout(() => socket.end(final!), 30);
      });
    });
    gw = await startGateway({
      upstreams: { raw: { url: upstream.url } },
      routes: [{ id: 'raw', path: '/', upstream: 'raw', access: 'public' }],
    });
  });
  after(async () => {
    await gw.close();
    upstream.close();
  });

  it('relays 103 Early Hints (its Link only) and then the final 200 with its body', async () => {
    const out = await rawTlsRequest(gw.gateway.addresses().https.port, 'GET /early-hints HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 103 Early Hints\r\nLink: <\/style\.css>; rel=preload; as=style\r\n\r\nHTTP\/1\.1 200 OK\r\n/i, out);
    assert.match(out, /\r\n\r\n(5\r\n)?final/, out);
    assert.doesNotMatch(out, /early=1/, 'only the Link of an interim response is relayed');
  });

  it('answers an HTTP/1.0 client with the final response only (no 1xx for HTTP/1.0)', async () => {
    const out = await rawTlsRequest(gw.gateway.addresses().https.port, 'GET /early-hints HTTP/1.0\r\nHost: localhost\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 200 OK\r\n/, out);
    assert.match(out, /final$/, out);
  });

  it('drops 102 Processing and answers with the final 200', async () => {
    const out = await rawTlsRequest(gw.gateway.addresses().https.port, 'GET /processing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 200 OK\r\n/, out);
    assert.match(out, /final/, out);
    const line = gw.logs.lines.filter((l) => l.type === 'access' && l.path === '/processing').at(-1);
    assert.equal(line?.status, 200);
    assert.equal(line?.code, undefined);
  });
});
