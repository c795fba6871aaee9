/**
 * Requests for paths no route serves, or with a method the route refuses, meet the same edge
 * protection as any other: a blocked address stays blocked and the per-address limit keeps
 * counting; so do request targets Gatehouse refuses outright (traversal, NUL). Before, route
 * answered 404 / 405 — and later still 400 ERR_REQUEST_PATH_INVALID — ahead of the block and
 * limit stages, so a scanner probing for routes or for path traversal (or a blocked client) was
 * never refused as such. Real, fully composed gateway (detection, rate limiting, store).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addBlock } from '../../src/detect/blocks.ts';
import type { DetectExtension } from '../../src/detect/extension.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import type { Store } from '../../src/store/types.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

const codeOf = (body: string): string | undefined => (JSON.parse(body) as { error?: { code?: string } }).error?.code;

describe('unknown routes and the edge limit', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({
      ratelimit: { edge: { rate: 1, periodMs: 60_000, burst: 3 } },
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public', methods: ['GET'] }],
    }, { compose: true });
  });
  after(async () => { await gw?.close(); await upstream?.close(); });

  it('keeps refusing an address over its edge limit with 429 on unknown paths and refused methods too (route scanning is not a way around the limit)', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await gw.fetch('/app/x')).status, 200);
    assert.equal((await gw.fetch('/app/x')).status, 429);
    const unknown = await gw.fetch('/no-such-route');
    assert.equal(unknown.status, 429, unknown.body);
    assert.equal(codeOf(unknown.body), 'ERR_RATELIMIT_EXCEEDED');
    const method = await gw.fetch('/app/x', { method: 'DELETE' });
    assert.equal(method.status, 429, method.body);
    const probe = await gw.fetch('/app/..%3b/admin');
    assert.equal(probe.status, 429, probe.body);
  });
});

describe('refused request targets and the edge limit', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({
      ratelimit: { edge: { rate: 1, periodMs: 60_000, burst: 3 } },
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }],
    }, { compose: true });
  });
  after(async () => { await gw?.close(); await upstream?.close(); });

  it('counts path-traversal and NUL probes against the edge limit: after the burst they get 429, and so does the client\'s next real request (attack: a traversal scanner never throttled)', async () => {
    for (const target of ['/app/..%3b/admin', '/app/a%00b', '/app/a%2f..%2fb']) {
      const r = await gw.fetch(target);
      assert.equal(r.status, 400, `${target}: ${r.body}`);
      assert.equal(codeOf(r.body), 'ERR_REQUEST_PATH_INVALID');
    }
    const fourth = await gw.fetch('/app/a%00b');
    assert.equal(fourth.status, 429, `the fourth probe: ${fourth.body}`);
    assert.equal((await gw.fetch('/app/x')).status, 429, 'the probes spent the client\'s allowance');
  });
});

describe('unknown routes and address blocks', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;
  let store: Store;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({
      ratelimit: { edge: { enabled: false } },
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public', methods: ['GET'] }],
    }, { compose: true });
    store = await openStoreFromConfig(gw.gateway.config);
  });
  after(async () => { await store?.close(); await gw?.close(); await upstream?.close(); });

  it('refuses a blocked address with 403 ERR_SHIELD_BLOCKED on unknown paths and refused methods, not with 404 / 405 (a blocked client cannot keep mapping the routes)', async () => {
    assert.equal((await gw.fetch('/no-such-route')).status, 404, 'unknown before the block');
    const block = await addBlock(store, undefined, { kind: 'address', value: '127.0.0.1', reason: 'test', durationMs: 60_000, createdBy: 'admin:test' });
    (gw.gateway.extensions.find((e) => e.name === 'detect') as DetectExtension).blockCheck.add(block);
    for (const [path, method] of [['/app/x', 'GET'], ['/no-such-route', 'GET'], ['/app/x', 'DELETE'], ['/app/..%3b/admin', 'GET']] as const) {
      const res = await gw.fetch(path, { method });
      assert.equal(res.status, 403, `${method} ${path}: ${res.body}`);
      assert.equal(codeOf(res.body), 'ERR_SHIELD_BLOCKED');
    }
  });
});
