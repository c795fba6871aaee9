/**
 * `gatehouse policy test` must decide as the gateway does. A policy conditioned on
 * `resource.path` (the route's prefix) is run through a real composed Gatehouse and through
 * the test runner pointed at the same configuration file; every case must come out the same.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { policyTestCommand } from '../../src/policy/commands/test.ts';
import { serviceToken } from '../support/service-token.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

const POLICY = `
@id("a-under-items") permit (principal == Gatehouse::Service::"svc-a", action == Gatehouse::Action::"GET", resource)
  when { resource.path == "/b/items" };
@id("no-admin-prefix") forbid (principal, action, resource) when { resource.path like "/b/admin*" };
@id("a-admin-by-name") permit (principal == Gatehouse::Service::"svc-a", action, resource == Gatehouse::Route::"b-admin");
`;

let dir: string;
let gw: TestGateway;
let b: TestUpstream;
let token: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-policy-parity-'));
  await writeFile(join(dir, 'svc-b.cedar'), POLICY);
  b = await startUpstream();
  gw = await startGateway({
    ratelimit: { edge: { enabled: false } },
    upstreams: { 'svc-b': { url: b.url } },
    routes: [
      { id: 'b-items', path: '/b/items', upstream: 'svc-b', policy: 'svc-b', authentication: { methods: ['jwt'] } },
      { id: 'b-admin', path: '/b/admin', upstream: 'svc-b', policy: 'svc-b', authentication: { methods: ['jwt'] } },
      { id: 'b-read-only', path: '/b/read-only', upstream: 'svc-b', policy: 'svc-b', methods: ['GET'], authentication: { methods: ['jwt'] } },
    ],
    policy: { dir },
  }, { compose: true });
  token = await serviceToken(gw, 'svc-a');
});

after(async () => {
  await gw?.close();
  await b?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('policy test and the gateway', () => {
  test('a policy conditioned on resource.path (the route prefix) decides the same in `policy test` as through the gateway', async () => {
    const requests = [
      { route: 'b-items', method: 'GET', path: '/b/items/42' },
      { route: 'b-items', method: 'POST', path: '/b/items/42' },
      { route: 'b-admin', method: 'GET', path: '/b/admin/users' },
    ];
    const cases = [];
    for (const r of requests) {
      const res = await gw.fetch(r.path, { method: r.method, headers: { authorization: `Bearer ${token}` } });
      assert.ok(res.status === 200 || res.status === 403, `${r.method} ${r.path}: ${res.status} ${res.body}`);
      cases.push({ name: `${r.method} ${r.path} as the gateway decided it`, principal: 'service:svc-a', request: r, expect: res.status === 200 ? 'allow' : 'deny' });
    }
    assert.deepEqual(cases.map((c) => c.expect), ['allow', 'deny', 'deny'], 'the gateway reads resource.path: allowed under /b/items by prefix, forbidden under /b/admin');

    const file = join(dir, 'svc-b.policytest.yaml');
    await writeFile(file, stringify({ config: gw.configFile, cases }));
    const result = await policyTestCommand(file);
    assert.equal(result.exitCode, 0, result.output);
    assert.match(result.output, /# 3 cases, 3 passed, 0 failed/);
  });

  test('with the configuration, a case whose path the gateway routes elsewhere, that names another upstream, or expects a method the route refuses to be allowed, fails instead of deciding on a route the gateway would not use', async () => {
    const file = join(dir, 'inconsistent.policytest.yaml');
    await writeFile(file, stringify({
      config: gw.configFile,
      cases: [
        { name: 'admin path filed under items', principal: 'service:svc-a', request: { method: 'GET', route: 'b-items', path: '/b/admin/users' }, expect: 'allow' },
        { name: 'encoded separator', principal: 'service:svc-a', request: { method: 'GET', route: 'b-items', path: '/b/items/..%2fadmin' }, expect: 'allow' },
        { name: 'wrong upstream', principal: 'service:svc-a', request: { method: 'GET', route: 'b-items', upstream: 'other', path: '/b/items/1' }, expect: 'allow' },
        { name: 'a method the route refuses, expected denied', principal: 'service:svc-a', request: { method: 'POST', route: 'b-read-only', path: '/b/read-only/1' }, expect: 'deny' },
        { name: 'a method the route refuses, expected allowed', principal: 'service:svc-a', request: { method: 'POST', route: 'b-read-only', path: '/b/read-only/1' }, expect: 'allow' },
      ],
    }));
    const result = await policyTestCommand(file);
    assert.equal(result.exitCode, 1, result.output);
    assert.match(result.output, /not ok 1 - admin path filed under items: \/b\/admin\/users is routed to route b-admin, not b-items/);
    assert.match(result.output, /not ok 2 - encoded separator: .*refuses this path before routing/);
    assert.match(result.output, /not ok 3 - wrong upstream: route b-items forwards to svc-b, not other/);
    assert.match(result.output, /\nok 4 - a method the route refuses, expected denied \(route b-read-only does not accept POST \(405 before any policy\)\)/);
    assert.match(result.output, /not ok 5 - a method the route refuses, expected allowed: route b-read-only does not accept POST/);
    assert.match(result.output, /# 5 cases, 1 passed, 4 failed/);
  });
});
