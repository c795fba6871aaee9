/** Validate-then-swap reload: invalid files never replace a working configuration. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGateway, startUpstream, testConfig, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { stringify } from 'yaml';

describe('configuration hot reload', () => {
  let gw: TestGateway;
  let a: TestUpstream;
  let b: TestUpstream;
  let held: Server;
  let releaseHeld: () => void = () => undefined;

  before(async () => {
    a = await startUpstream((_req, res) => res.end('from-a'));
    b = await startUpstream((_req, res) => res.end('from-b'));
    // Holds its response until released, to prove in-flight requests finish on their config.
    held = createServer((_req, res) => { releaseHeld = () => res.end('held-done'); });
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    gw = await startGateway({
      upstreams: { a: { url: a.url }, held: { url: `http://127.0.0.1:${(held.address() as AddressInfo).port}` } },
      routes: [{ id: 'svc', path: '/svc', upstream: 'a', access: 'public' }, { id: 'held', path: '/held', upstream: 'held', access: 'public' }],
    }, { watch: true });
  });
  after(async () => { await gw.close(); await a.close(); await b.close(); held.closeAllConnections(); held.close(); });

  it('keeps serving the old configuration when the new file is invalid, and logs the problems', async () => {
    await gw.writeConfig('routes:\n  - { id: svc, path: /svc, upstream: nowhere, bogusKey: 1 }\n');
    const result = await gw.gateway.reload('test');
    assert.equal(result.applied, false);
    const paths = result.problems!.map((p) => p.path.join('.'));
    assert.ok(paths.some((p) => p.startsWith('routes.0')), `problems name the route: ${paths.join(', ')}`);
    assert.equal((await gw.fetch('/svc/x')).body, 'from-a');
    assert.ok(gw.logs.lines.some((l) => l.msg === 'configuration reload refused; the previous configuration keeps serving'));
  });

  it('keeps serving when the file is not even YAML', async () => {
    await gw.writeConfig('routes: [ {');
    assert.equal((await gw.gateway.reload('test')).applied, false);
    assert.equal((await gw.fetch('/svc/x')).body, 'from-a');
  });

  it('a reload refused for a YAML error next to an inline secret keeps the secret out of the problems and the log', async () => {
    const secret = 'inline-client-secret-5be1d0c7';
    // A duplicate key on the line after the secret: the parser's message quotes the lines around it.
    await gw.writeConfig(`authn:\n  login:\n    clientSecret: ${secret}\n    clientSecret: again\n`);
    const result = await gw.gateway.reload('test');
    assert.equal(result.applied, false);
    const problems = result.problems!.map((p) => p.message).join('\n');
    assert.match(problems, /not valid YAML\/JSON: .*line 4, column 5/);
    assert.doesNotMatch(problems, new RegExp(secret));
    assert.ok(!gw.logs.lines.some((l) => JSON.stringify(l).includes(secret)), 'the secret is in no log line');
  });

  it('swaps to a valid configuration, while an in-flight request finishes on the old one', async () => {
    const inflight = gw.fetch('/held/x');
    await new Promise((r) => setTimeout(r, 100));
    await gw.writeConfig({
      upstreams: { b: { url: b.url } },
      routes: [{ id: 'svc', path: '/svc', upstream: 'b', access: 'public' }],
    });
    const result = await gw.gateway.reload('test');
    assert.equal(result.applied, true);
    assert.equal((await gw.fetch('/svc/x')).body, 'from-b');
    assert.equal((await gw.fetch('/held/x')).status, 404, 'the new config has no /held route');
    releaseHeld();
    const old = await inflight;
    assert.equal(old.status, 200);
    assert.equal(old.body, 'held-done');
  });

  it('reloads by itself when the watched file changes', async () => {
    await gw.writeConfig(stringify(testConfig(gw.dataDir, { upstreams: { a: { url: a.url } }, routes: [{ id: 'svc', path: '/svc', upstream: 'a', access: 'public' }] })));
    const deadline = Date.now() + 5000;
    let body = '';
    while (Date.now() < deadline) {
      body = (await gw.fetch('/svc/x')).body;
      if (body === 'from-a') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(body, 'from-a');
  });
});
