/**
 * A framing refusal (ERR_REQUEST_SMUGGLING) closes the connection even when Node read the whole
 * request by its own reading: where the request ends is what is in doubt, so bytes after it
 * must never be parsed as the next request on a kept-alive connection.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { GatehouseError } from '../../src/core/errors.ts';
import { writeErrorResponse } from '../../src/gateway/respond-error.ts';

describe('framing refusal', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => writeErrorResponse(res, new GatehouseError(req.url === '/framing' ? 'ERR_REQUEST_SMUGGLING' : 'ERR_REQUEST_MALFORMED'), 'rid', 'application/json'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const exchange = (path: string) => new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n`));
    let text = '';
    socket.setEncoding('utf8').on('data', (c: string) => { text += c; }).on('close', () => resolve(text)).on('error', reject);
    setTimeout(() => { socket.destroy(); }, 1000);
  });

  it('an ambiguous-framing refusal of a request read whole closes the connection: the bytes behind it get no answer as a next request', async () => {
    const text = await exchange('/framing');
    assert.match(text, /^HTTP\/1\.1 400/);
    assert.match(text, /connection: close/i);
    assert.equal(text.match(/HTTP\/1\.1 /g)!.length, 1, text);
  });

  it('other refusals of a request read whole keep the connection (coverage: the next request is answered)', async () => {
    const text = await exchange('/other');
    assert.equal(text.match(/HTTP\/1\.1 400/g)!.length, 2, text);
  });
});
