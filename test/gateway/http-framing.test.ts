import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { checkFraming } from '../../src/gateway/http/framing.ts';
import { GatehouseError } from '../../src/core/errors.ts';

function refused(raw: string[]): boolean {
  try {
    checkFraming(raw);
    return false;
  } catch (err) {
    assert.ok(err instanceof GatehouseError);
    assert.equal(err.code, 'ERR_REQUEST_SMUGGLING');
    assert.equal(err.status, 400);
    return true;
  }
}

describe('checkFraming', () => {
  test('accepts a single Content-Length, chunked, or no body headers', () => {
    assert.deepEqual(checkFraming(['Host', 'x', 'Content-Length', '42']), { contentLength: 42, chunked: false });
    assert.deepEqual(checkFraming(['content-length', '0']), { contentLength: 0, chunked: false });
    assert.deepEqual(checkFraming(['Transfer-Encoding', 'chunked']), { contentLength: undefined, chunked: true });
    assert.deepEqual(checkFraming(['transfer-encoding', 'Chunked']), { contentLength: undefined, chunked: true });
    assert.deepEqual(checkFraming(['Host', 'x']), { contentLength: undefined, chunked: false });
  });

  test('Content-Length together with Transfer-Encoding (CL.TE / TE.CL) is refused', () => {
    assert.equal(refused(['Content-Length', '5', 'Transfer-Encoding', 'chunked']), true);
    assert.equal(refused(['transfer-encoding', 'chunked', 'CONTENT-LENGTH', '0']), true);
  });

  test('two Content-Length fields are refused, even when equal', () => {
    assert.equal(refused(['Content-Length', '5', 'Content-Length', '5']), true);
    assert.equal(refused(['Content-Length', '5', 'content-length', '6']), true);
  });

  test('a Content-Length that is not plain digits is refused', () => {
    for (const value of ['5, 5', '+5', '-1', '0x10', '5.0', '', ' 5', '1e3', '١٢', '9'.repeat(16)]) {
      assert.equal(refused(['Content-Length', value]), true, JSON.stringify(value));
    }
  });

  test('Transfer-Encoding other than exactly chunked is refused', () => {
    for (const value of ['gzip, chunked', 'chunked, identity', 'identity', 'xchunked', 'chunked;x=1', '']) {
      assert.equal(refused(['Transfer-Encoding', value]), true, JSON.stringify(value));
    }
    assert.equal(refused(['Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked']), true);
  });

  test('Transfer-Encoding: gzip, chunked that Node accepts from a real socket is refused here', async () => {
    let seen: string[] | undefined;
    const server = createServer((req, res) => { seen = req.rawHeaders; req.resume(); req.on('end', () => res.end()); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        const socket = connect((server.address() as AddressInfo).port, '127.0.0.1', () => {
          socket.end('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n');
        });
        socket.on('data', () => {});
        socket.on('close', () => resolve());
        socket.on('error', reject);
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    assert.ok(seen, 'Node no longer passes this request through; the test needs another fixture');
    assert.equal(refused(seen), true);
  });
});
