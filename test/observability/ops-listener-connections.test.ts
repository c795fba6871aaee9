/**
 * Connection flooding against the ops listener: whatever can reach it (often every pod of the
 * cluster) opened as many connections as it liked, each a file descriptor of the process that
 * the public listener needs too. `listeners.ops.maxConnections` bounds them: a connection past
 * it is closed as soon as it is accepted, and a scraper already connected keeps scraping.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { parseConfig } from '../../src/core/config/load.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';

/** A raw TCP connection to the ops listener, and whether the server closes it within `ms`. */
async function open(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('error', reject); });
  return socket;
}

function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => { clearTimeout(timer); resolve(true); });
    socket.resume();
  });
}

/** One GET on an open keep-alive connection; the answer's status line and body. */
function getOn(socket: Socket, path: string): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = text.slice(0, end);
      const length = /\r\ncontent-length: (\d+)/i.exec(head);
      const body = text.slice(end + 4);
      // /metrics is chunked: the last chunk ends it.
      const done = length ? body.length >= Number(length[1]) : body.endsWith('0\r\n\r\n');
      if (done) { socket.off('data', onData); resolve({ head, body }); }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`connection closed; read so far: ${JSON.stringify(text.slice(0, 200))}`)));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

describe('ops listener connection cap', () => {
  let gw: TestGateway;
  let port: number;
  before(async () => {
    gw = await startGateway({ listeners: { https: { host: '127.0.0.1', port: 0 }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0, maxConnections: 3 } } });
    port = Number(new URL(gw.opsUrl).port);
  });
  after(() => gw.close());

  it('closes connections opened past listeners.ops.maxConnections while a scraper already connected keeps scraping', async () => {
    const scraper = await open(port);
    const first = await getOn(scraper, '/metrics');
    assert.match(first.head, /^HTTP\/1\.1 200/);
    const flood = [await open(port), await open(port)];
    // Past the cap: each further connection is accepted by the kernel and closed by the server at once.
    const extra: Socket[] = [];
    for (let i = 0; i < 5; i++) extra.push(await open(port));
    try {
      const closed = await Promise.all(extra.map((s) => closedWithin(s, 2000)));
      assert.deepEqual(closed, extra.map(() => true), 'a connection past maxConnections: 3 stayed open');
      // The three it accepted stay open, and the scraper's connection still serves.
      assert.equal(flood.some((s) => s.destroyed), false);
      const again = await getOn(scraper, '/metrics');
      assert.match(again.head, /^HTTP\/1\.1 200/);
      assert.match(again.body, /gatehouse_http_requests_total/);
      assert.match((await getOn(scraper, '/healthz')).head, /^HTTP\/1\.1 200/);
    } finally {
      for (const s of [scraper, ...flood, ...extra]) s.destroy();
    }
  });

  it('accepts connections again once those that held the cap are gone', async () => {
    // Connections of the test before may still be counted for a moment: each held one is
    // proven accepted by an answer (retrying until the server has seen those closes).
    const held: Socket[] = [];
    while (held.length < 3) {
      const s = await open(port);
      if (await getOn(s, '/healthz').then(() => true, () => false)) held.push(s);
      else await new Promise((r) => setTimeout(r, 50));
    }
    const refused = await open(port);
    assert.equal(await closedWithin(refused, 2000), true, 'a fourth connection stayed open');
    for (const s of held) s.destroy();
    // The server sees the closes asynchronously: retry briefly.
    let answer: { head: string } | undefined;
    for (let i = 0; i < 20 && !answer; i++) {
      const s = await open(port);
      answer = await getOn(s, '/healthz').catch(() => undefined);
      s.destroy();
      if (!answer) await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(answer?.head ?? '', /^HTTP\/1\.1 200/);
  });
});

describe('listeners.ops.maxConnections config', () => {
  it('defaults to 64', () => {
    assert.equal(parseConfig({}, { env: {} }).config.listeners.ops.maxConnections, 64);
  });

  it('refuses a value that is not a positive integer, naming its path', () => {
    for (const bad of [0, -1, 1.5, 1e400, '64']) {
      assert.throws(() => parseConfig({ listeners: { ops: { maxConnections: bad } } }, { env: {} }), (err: Error) => /listeners\.ops\.maxConnections/.test(err.message + JSON.stringify(err)), String(bad));
    }
  });
});
