/**
 * An upstream that is Gatehouse's own listener is refused by path: the ops listener behind a
 * public route exposes its metrics and actions (and the request arrives from loopback, the
 * one peer ops actions trust); the public listener as its own upstream loops every request.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { ConfigError, parseConfig } from '../../src/core/config/load.ts';
import { compileCheck } from '../../src/core/config/compile-check.ts';
import { startGateway, startUpstream } from '../support/gateway.ts';

function problemsOf(upstream: string, listeners: Record<string, unknown> = {}): string[] {
  try {
    parseConfig({
      listeners,
      upstreams: { app: { url: upstream } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }],
    }, { env: { NODE_ENV: 'test' }, crossCheck: compileCheck });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path.join('.')}: ${p.message}`);
  }
  return [];
}

describe('upstreams that are Gatehouse itself', () => {
  it('exposing the ops listener through a public route (upstream http://127.0.0.1:9090) is refused', () => {
    const problems = problemsOf('http://127.0.0.1:9090');
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^upstreams\.app\.url: points at Gatehouse's own ops listener \(127\.0\.0\.1:9090\)/);
  });

  it('is refused under another loopback spelling (localhost, [::1], 127.1.2.3)', () => {
    for (const url of ['http://localhost:9090/x', 'http://[::1]:9090', 'http://127.1.2.3:9090']) {
      assert.equal(problemsOf(url).length, 1, url);
    }
  });

  it('a request loop through the public listener (upstream https://localhost:8443) is refused, also with the default port', () => {
    assert.match(problemsOf('https://localhost:8443')[0]!, /own public HTTPS listener .*loop/);
    assert.match(problemsOf('https://127.0.0.1', { https: { port: 443 } })[0]!, /own public HTTPS listener/);
    assert.match(problemsOf('http://127.0.0.1:8080')[0]!, /own HTTP redirect listener/);
  });

  it("a listener on every address is matched by this machine's own interface addresses", (t) => {
    const address = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (address === undefined) { t.skip('this machine has no non-loopback IPv4 interface to point an upstream at'); return; }
    assert.equal(problemsOf(`https://${address}:8443`).length, 1);
  });

  it('accepts upstreams on other ports or hosts, and the ops port on another host', () => {
    assert.deepEqual(problemsOf('http://127.0.0.1:9091'), []);
    assert.deepEqual(problemsOf('http://10.1.2.3:9090'), []);
    assert.deepEqual(problemsOf('http://mail.internal:8443'), []);
    assert.deepEqual(problemsOf('http://127.0.0.1:8080', { http: { enabled: false } }), []);
  });

  it('a reload that points an upstream at the ops listener is refused and the old routes keep serving', async () => {
    const upstream = await startUpstream();
    const gw = await startGateway({ upstreams: { app: { url: upstream.url } }, routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }] });
    try {
      const opsPort = gw.gateway.addresses().ops.port;
      await gw.writeConfig({
        listeners: { https: { host: '127.0.0.1', port: 0 }, http: { enabled: false }, ops: { host: '127.0.0.1', port: opsPort } },
        upstreams: { app: { url: `http://127.0.0.1:${opsPort}` } },
        routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }],
      });
      const result = await gw.gateway.reload('test');
      assert.equal(result.applied, false);
      assert.ok(result.problems?.some((p) => p.path.join('.') === 'upstreams.app.url'), JSON.stringify(result.problems));
      assert.equal((await gw.fetch('/app/metrics')).status, 200);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});
