/**
 * Responses finished at the end of their event-loop turn (src/gateway/http/turn-end.ts), over
 * real sockets: the last bytes stay on the corked socket until the turn ends, every response
 * of the turn is then finished, and one that cannot be finished does not hold up the others.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { endAtTurnEnd } from '../../src/gateway/http/turn-end.ts';
import type { RequestContext } from '../../src/gateway/context.ts';
import { selfSignedCertificate } from '../support/self-signed.ts';
import { countSocketWrites } from '../support/socket-writes.ts';
import { httpsBody } from '../support/https-body.ts';

interface Seen { endedInHandler: boolean; endedNextTick: boolean; corkedNextTick: boolean }

/** The part of a context endAtTurnEnd uses, around a real response. */
function contextOf(res: ServerResponse, warnings: unknown[]): RequestContext {
  return { res, requestId: 'r', gen: { logger: { warn: (o: unknown) => warnings.push(o) } } } as unknown as RequestContext;
}

async function withServer(handler: (res: ServerResponse, path: string) => void, run: (port: number) => Promise<void>): Promise<void> {
  const server = createServer((req, res) => handler(res, req.url ?? '/'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await run((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('error', reject);
    }).on('error', reject).end();
  });
}

test('a response handed over is finished at the end of the turn, not at once and not after the next tick', async () => {
  const seen: Seen[] = [];
  const warnings: unknown[] = [];
  await withServer((res) => {
    res.writeHead(200, { 'content-length': '5' });
    res.write('hello');
    endAtTurnEnd(contextOf(res, warnings));
    const s: Seen = { endedInHandler: res.writableEnded, endedNextTick: true, corkedNextTick: false };
    seen.push(s);
    // Node's own cork of this write ends at the next tick; the body must still be held then.
    process.nextTick(() => { s.endedNextTick = res.writableEnded; s.corkedNextTick = res.socket!.writableCorked > 0; });
  }, async (port) => {
    const r = await get(port, '/');
    assert.deepEqual(r, { status: 200, body: 'hello' });
  });
  assert.deepEqual(seen, [{ endedInHandler: false, endedNextTick: false, corkedNextTick: true }]);
  assert.deepEqual(warnings, []);
});

test('every response of a turn is finished, and one whose end throws (its socket gone) does not hold up the others', async () => {
  const warnings: unknown[] = [];
  const pending: ServerResponse[] = [];
  await withServer((res, path) => {
    res.writeHead(200, { 'content-length': '2' });
    res.write('ok');
    if (path === '/broken') {
      res.end = () => { throw new Error('socket gone'); };
      // The real end, so the client is answered after the flush tried (and failed) the broken one.
      setTimeout(() => (ServerResponseEnd as () => void).call(res), 50);
    }
    pending.push(res);
    // All three complete in one turn once the third has arrived.
    if (pending.length === 3) for (const p of pending.splice(0)) endAtTurnEnd(contextOf(p, warnings));
  }, async (port) => {
    const results = await Promise.all([get(port, '/a'), get(port, '/broken'), get(port, '/c')]);
    assert.deepEqual(results.map((r) => r.body), ['ok', 'ok', 'ok']);
  });
  assert.equal(warnings.length, 1, 'the failed end is logged once');
});

test('a response finished at the end of its turn over TLS leaves in one socket write, not its body and then an empty end', async () => {
  const { cert, key } = await selfSignedCertificate(new Date(Date.now() - 60_000), new Date(Date.now() + 3_600_000));
  // Per response, the socket writes from its head to its 'finish' (which can come after the client has it all).
  const writes: Promise<number>[] = [];
  const server = createTlsServer({ cert, key }, (_req, res) => {
    const count = countSocketWrites(res.socket as Socket);
    writes.push(new Promise((resolve) => res.on('finish', () => resolve(count.stop()))));
    res.writeHead(200, { 'content-length': '5' });
    res.write('hello');
    endAtTurnEnd(contextOf(res, []));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    for (let i = 0; i < 3; i++) {
      assert.equal(await httpsBody(port), 'hello');
    }
    assert.deepEqual(await Promise.all(writes), [1, 1, 1]);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

const ServerResponseEnd = (await import('node:http')).ServerResponse.prototype.end;
