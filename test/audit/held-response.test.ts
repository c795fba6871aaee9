/**
 * A response held for its access record's grouped spool write (src/audit/held-response.ts), over
 * real TLS: nothing leaves before the hold is released, then the held bytes and the final write
 * leave in one socket write; a final write deferred after the release, or one that throws, does
 * not leave the socket corked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { HeldResponse } from '../../src/audit/held-response.ts';
import type { RequestContext } from '../../src/gateway/context.ts';
import { selfSignedCertificate } from '../support/self-signed.ts';
import { countSocketWrites } from '../support/socket-writes.ts';
import { httpsBody } from '../support/https-body.ts';

const { cert, key } = await selfSignedCertificate(new Date(Date.now() - 60_000), new Date(Date.now() + 3_600_000));

interface Outcome { writesWhileHeld: number; writes: number; corkedAfter: number }

/**
 * Serves one request with `handle`, which writes a head and a body, holds the response and
 * returns how it releases it; resolves with the client's body and what the server saw.
 */
async function serve(handle: (res: ServerResponse, hold: HeldResponse, ctx: RequestContext) => () => void): Promise<{ body: string; outcome: Outcome }> {
  let outcome!: Promise<Outcome>;
  const server = createServer({ cert, key }, (_req, res) => {
    const socket = res.socket as Socket;
    const count = countSocketWrites(socket);
    const ctx = { res, finishHold: undefined } as unknown as RequestContext;
    res.writeHead(200, { 'content-length': '5' });
    res.write('hello');
    const hold = new HeldResponse(ctx, socket);
    hold.cork();
    const release = handle(res, hold, ctx);
    // Released in a later turn, as the writer does after its grouped spool write.
    outcome = new Promise((resolve) => setTimeout(() => {
      const writesWhileHeld = count.stop();
      const after = countSocketWrites(socket);
      res.on('finish', () => resolve({ writesWhileHeld, writes: after.stop(), corkedAfter: socket.writableCorked }));
      release();
    }, 20));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const body = await httpsBody(port);
    return { body, outcome: await outcome };
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

const end = (ctx: RequestContext): void => { ctx.res.end(); };

test('a held response sends nothing until released, then its bytes and its end in one socket write', async () => {
  const r = await serve((_res, hold, ctx) => {
    assert.equal(ctx.finishHold, hold);
    ctx.finishHold!.defer(end);
    return () => hold.uncork();
  });
  assert.equal(r.body, 'hello');
  assert.deepEqual(r.outcome, { writesWhileHeld: 0, writes: 1, corkedAfter: 0 });
});

test('a final write deferred after the release is made at once, and the socket is not left corked', async () => {
  const r = await serve((_res, hold, ctx) => () => {
    hold.uncork();
    assert.equal(ctx.finishHold, undefined);
    hold.defer(end);
  });
  assert.equal(r.body, 'hello');
  assert.equal(r.outcome.writesWhileHeld, 0);
  assert.equal(r.outcome.corkedAfter, 0);
});

test('a final write that throws at the release still uncorks the held bytes, so a later end reaches the client', async () => {
  const r = await serve((res, hold) => {
    hold.defer(() => { throw new Error('socket gone'); });
    return () => {
      assert.throws(() => hold.uncork(), /socket gone/);
      assert.equal((res.socket as Socket).writableCorked, 0);
      res.end();
    };
  });
  assert.equal(r.body, 'hello');
  assert.equal(r.outcome.corkedAfter, 0);
});
