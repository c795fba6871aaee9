/**
 * An upstream answering with something that is not valid HTTP/1.1 gets 502
 * ERR_GATEWAY_UPSTREAM_PROTOCOL (docs/request-path.md, 'Upstream failures'), not the code for
 * an unreachable upstream: operators page on the difference. Nothing of such an answer reaches the client.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { startRawUpstream, type RawUpstream } from '../support/raw-upstream.ts';

const ANSWERS: Record<string, string> = {
  'a status line with a four-digit status': 'HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n',
  'no HTTP at all': 'NOT HTTP AT ALL\r\n\r\n',
  'a bare CR inside a header value (response splitting)': 'HTTP/1.1 200 OK\r\nX-A: a\rSet-Cookie: injected=1\r\nContent-Length: 0\r\n\r\n',
  'both Content-Length and Transfer-Encoding (response smuggling)': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  // Gatehouse never sends Expect upstream; undici refuses a 100 it did not ask for ('bad response').
  'an unsolicited 100 Continue': 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  // A switch of protocols nobody asked for: the bytes after it must not reach the client ('bad upgrade').
  'a 101 Switching Protocols to a request that asked for no upgrade': 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nHTTP/1.1 200 OK\r\nSet-Cookie: injected=1\r\n\r\n',
};

describe('upstream sending an invalid response', () => {
  let gw: TestGateway;
  let upstream: RawUpstream;
  const names = Object.keys(ANSWERS);

  before(async () => {
    upstream = await startRawUpstream((socket) => {
      socket.once('data', (d: Buffer) => { socket.end(ANSWERS[names[Number(/GET \/(\d+)/.exec(d.toString('latin1'))?.[1])]!] ?? ''); });
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

  names.forEach((name, i) => {
    it(`answers 502 ERR_GATEWAY_UPSTREAM_PROTOCOL to an upstream response with ${name}`, async () => {
      const res = await gw.fetch(`/${i}`);
      assert.equal(res.status, 502);
      assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'ERR_GATEWAY_UPSTREAM_PROTOCOL');
      assert.equal(res.headers['set-cookie'], undefined);
    });
  });
});
