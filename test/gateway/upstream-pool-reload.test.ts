/**
 * A reload keeps the upstream connections it can. Routes to one upstream with different
 * connect timeouts each use a pool of their own (undici's connect timeout is the pool's);
 * before, the pools were reused only when the whole list of timeouts was the same and in the
 * same order, so a reload that reordered the routes, or added a route with a new timeout,
 * closed every pool of the upstream and reconnected all its traffic. Counted on a real
 * upstream's accepted TCP connections.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

describe('upstream pools across a reload', () => {
  let gw: TestGateway;
  let up: TestUpstream;
  let connections = 0;
  const route = (id: string, connectMs: number) => ({ id, path: `/${id}`, upstream: 'app', access: 'public' as const, timeouts: { connectMs } });
  const config = (routes: ReturnType<typeof route>[], url = up.url) => ({ upstreams: { app: { url } }, routes });

  async function reload(routes: ReturnType<typeof route>[], url?: string): Promise<void> {
    await gw.writeConfig(config(routes, url));
    assert.equal((await gw.gateway.reload('test')).applied, true);
  }
  async function ok(path: string): Promise<void> {
    const res = await gw.fetch(path);
    assert.equal(res.status, 200, res.body);
  }

  before(async () => {
    up = await startUpstream();
    up.server.on('connection', () => { connections++; });
    gw = await startGateway(config([route('fast', 300), route('slow', 4_000)]));
    await ok('/fast/1');
    await ok('/slow/1');
  });
  after(async () => {
    await gw.close();
    await up.close();
  });

  it('a reload that reorders the routes of an upstream with two connect timeouts reconnects nothing: both pools keep their connections', async () => {
    assert.equal(connections, 2);
    await reload([route('slow', 4_000), route('fast', 300)]);
    await ok('/fast/2');
    await ok('/slow/2');
    assert.equal(connections, 2, 'a reordered route list closed the pools and opened new connections');
  });

  it('a reload that adds a route with a new connect timeout opens a connection for it only; the existing pools keep theirs', async () => {
    await reload([route('slow', 4_000), route('fast', 300), route('new', 1_000)]);
    await ok('/fast/3');
    await ok('/slow/3');
    await ok('/new/3');
    assert.equal(connections, 3);
  });

  it('a reload that drops a connect timeout closes that pool only', async () => {
    await reload([route('slow', 4_000), route('fast', 300)]);
    await ok('/fast/4');
    await ok('/slow/4');
    assert.equal(connections, 3);
  });

  it('a reload that changes the upstream\'s settings replaces every pool of it: its routes reconnect', async () => {
    await reload([route('slow', 4_000), route('fast', 300)], `${up.url}/`);
    await ok('/fast/5');
    await ok('/slow/5');
    assert.equal(connections, 5);
  });
});
