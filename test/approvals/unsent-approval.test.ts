/**
 * An approval is given back when its request fails in the upstream pool before undici wrote a
 * byte of it (released-approval.test.ts covers the stages before the pool): the upstream refuses
 * connections (502), the route's total timeout passes while the request waits for a connection
 * (504), the client leaves while it waits. None of these ran the operation, so the requester's
 * retry must find the approval again — and a request that was queued when it was given back must
 * never reach the upstream later (an approved operation runs once). Real composed gateway, real
 * upstream; an upstream pool of one connection, held by a slow request, makes a request wait.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorOf, startApprovalsGateway, type ApprovalsGateway } from './support/approvals-gateway.ts';
import { requester, type Reply } from './support/requester.ts';
import { closedPort } from '../support/closed-port.ts';


describe('an approval whose request failed in the upstream pool before anything was sent', () => {
  let t: ApprovalsGateway;
  let downPort: number;
  /** Answers of the slow request that holds the single connection, released by the test. */
  const held: (() => void)[] = [];

  before(async () => {
    downPort = await closedPort();
    t = await startApprovalsGateway((url) => ({
      routes: [
        { id: 'down', path: '/down', upstream: 'down', access: 'authenticated', approval: { approverRoles: ['approver'] } },
        { id: 'single', path: '/single', upstream: 'single', access: 'authenticated', approval: { approverRoles: ['approver'] } },
        { id: 'queued', path: '/queued', upstream: 'single', access: 'authenticated', approval: { approverRoles: ['approver'] }, timeouts: { totalMs: 400 } },
      ],
      upstreams: { down: { url: `http://127.0.0.1:${downPort}` }, single: { url, connections: 1 } },
    }), [['alice', ['ops']], ['bob', ['approver']]], (req, res) => {
      if (req.url?.endsWith('/slow')) { held.push(() => res.writeHead(200).end('slow')); return; }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  after(async () => {
    for (const release of held.splice(0)) release();
    await t?.close();
  });

  const { call, use, approved, audited } = requester(() => t, { requester: 'alice', approver: 'bob' });
  const status = async (id: string) => (await t.store.db.selectFrom('approvals').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
  const posts = (path: string) => t.upstream.received.filter((r) => r.method === 'POST' && r.url === path).length;

  const released = (id: string) => audited('approval.released', id, 1);

  /** Occupies the single upstream connection with a GET (no approval needed) until `held` is released. */
  async function occupy(path: string): Promise<{ slow: Promise<Reply> }> {
    const n = held.length;
    const slow = call('GET', path);
    for (const deadline = Date.now() + 5000; held.length === n; await sleep(10)) if (Date.now() > deadline) assert.fail('the slow request never reached the upstream');
    // Wrapped: an async function returning the promise itself would wait for it.
    return { slow };
  }

  it('an approved request whose upstream refuses connections (502) keeps its approval, and the retry once the upstream is up reaches it exactly once', async () => {
    const body = '{"amount":11}';
    const id = await approved('/down/transfer', body);
    const refused = await use('/down/transfer', body, id);
    assert.equal(refused.status, 502, refused.body);
    assert.equal(errorOf(refused).code, 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE');
    // Given back before the 502 was answered.
    assert.equal(await status(id), 'approved');
    const events = await released(id);
    assert.equal(events[0]?.code, 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE');
    assert.equal(events[0]?.stage, 'forward');

    // The upstream comes up on that port.
    const received: string[] = [];
    const up = (await import('node:http')).createServer((req, res) => {
      let b = '';
      req.on('data', (c: Buffer) => { b += c.toString(); });
      req.on('end', () => { received.push(b); res.writeHead(200).end('done'); });
    });
    await new Promise<void>((r) => up.listen(downPort, '127.0.0.1', r));
    try {
      const ok = await use('/down/transfer', body, id);
      assert.equal(ok.status, 200, ok.body);
      assert.deepEqual(received, [body]);
      assert.equal(await status(id), 'used');
      const replay = await use('/down/transfer', body, id);
      assert.equal(errorOf(replay).code, 'ERR_APPROVAL_USED');
      assert.deepEqual(received, [body]);
    } finally {
      up.closeAllConnections();
      await new Promise<void>((r) => up.close(() => r()));
    }
  });

  it('an approved request still waiting for an upstream connection when the route\'s total timeout passes (504) keeps its approval and is never sent later', async () => {
    const body = '{"amount":12}';
    const id = await approved('/queued/transfer', body);
    const { slow } = await occupy('/single/slow');
    const timedOut = await use('/queued/transfer', body, id);
    assert.equal(timedOut.status, 504, timedOut.body);
    assert.equal(errorOf(timedOut).code, 'ERR_GATEWAY_UPSTREAM_TIMEOUT');
    assert.equal(await status(id), 'approved');
    assert.equal((await released(id))[0]?.code, 'ERR_GATEWAY_UPSTREAM_TIMEOUT');

    // The connection frees up: the queued request is dropped unsent, not forwarded now.
    held.shift()!();
    assert.equal((await slow).status, 200);
    await sleep(200);
    assert.equal(posts('/queued/transfer'), 0, 'the timed-out request reached the upstream after its approval was given back');
    const ok = await use('/queued/transfer', body, id);
    assert.equal(ok.status, 200, ok.body);
    assert.equal(posts('/queued/transfer'), 1);
    assert.equal(await status(id), 'used');
  });

  it('an approved request whose client leaves while it waits for an upstream connection keeps its approval and is never sent later', async () => {
    const body = '{"amount":13}';
    const id = await approved('/single/transfer', body);
    const { slow } = await occupy('/single/slow');
    // A raw TLS client that sends the request and hangs up while it is queued.
    const { port } = new URL(t.gw.url);
    const socket = tlsConnect({ host: '127.0.0.1', port: Number(port), rejectUnauthorized: false });
    await new Promise<void>((r, j) => { socket.once('secureConnect', () => r()); socket.once('error', j); });
    socket.write(`POST /single/transfer HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nauthorization: Bearer ${t.tokens.alice}\r\ngatehouse-approval: ${id}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    // Used by the approve stage, then queued behind the slow request.
    for (const deadline = Date.now() + 5000; await status(id) !== 'used'; await sleep(20)) if (Date.now() > deadline) assert.fail('the approval was never used');
    await sleep(100);
    socket.destroy();
    const events = await released(id);
    assert.equal(events[0]?.code, 'ERR_REQUEST_CLIENT_CLOSED');
    assert.equal(await status(id), 'approved');

    held.shift()!();
    assert.equal((await slow).status, 200);
    await sleep(200);
    assert.equal(posts('/single/transfer'), 0, 'the abandoned request reached the upstream after its approval was given back');
    const ok = await use('/single/transfer', body, id);
    assert.equal(ok.status, 200, ok.body);
    assert.equal(posts('/single/transfer'), 1);
  });
});
