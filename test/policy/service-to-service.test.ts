/**
 * Service-to-service authorization end to end, through a real composed Gatehouse (IdP,
 * authentication, policy) and a real upstream: service A, with a client-credentials token
 * from Gatehouse's own IdP, may call one route of service B on GET only; service C may not.
 * The policy is a real file in a temporary policy directory. What B receives is checked
 * with the service SDK (signed identity assertion, verified against the gateway's JWKS).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAssertionVerifier } from '../../src/sdk/index.ts';
import { serviceToken } from '../support/service-token.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

const POLICY = `
// Service A may read B's items. Nothing else is allowed (default deny).
@id("a-reads-b-items")
permit (principal == Gatehouse::Service::"svc-a", action == Gatehouse::Action::"GET", resource == Gatehouse::Route::"b-items");
`;

let gw: TestGateway;
let b: TestUpstream;
let policyDir: string;
const tokens: Record<string, string> = {};

function call(method: string, path: string, token?: string) {
  return gw.fetch(path, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
}

before(async () => {
  policyDir = await mkdtemp(join(tmpdir(), 'gatehouse-s2s-policies-'));
  await writeFile(join(policyDir, 'svc-b.cedar'), POLICY);
  b = await startUpstream();
  gw = await startGateway({
    ratelimit: { edge: { enabled: false } },
    upstreams: { 'svc-b': { url: b.url } },
    routes: [
      { id: 'b-items', path: '/b/items', upstream: 'svc-b', policy: 'svc-b', authentication: { methods: ['jwt'] } },
      { id: 'b-admin', path: '/b/admin', upstream: 'svc-b', policy: 'svc-b', authentication: { methods: ['jwt'] } },
    ],
    policy: { dir: policyDir },
  }, { compose: true });
  for (const id of ['svc-a', 'svc-c']) tokens[id] = await serviceToken(gw, id);
});

after(async () => {
  await gw?.close();
  await b?.close();
  await rm(policyDir, { recursive: true, force: true });
});

describe('service-to-service authorization through the gateway', () => {
  test('service A reads B\'s items with GET; B gets a verifiable assertion naming service A', async () => {
    const before = b.received.length;
    const r = await call('GET', '/b/items/42', tokens['svc-a']);
    assert.equal(r.status, 200, r.body);
    assert.equal(b.received.length, before + 1);
    const got = b.received.at(-1)!;
    assert.equal(got.url, '/b/items/42');
    assert.equal(got.headers.authorization, undefined, 'the client credential does not reach the upstream');
    const assertion = got.headers['x-gatehouse-identity'];
    assert.equal(typeof assertion, 'string');
    const jwks = JSON.parse((await gw.fetch('/.well-known/gatehouse/assertion-jwks.json')).body) as { keys: [] };
    const verifier = createAssertionVerifier({ jwks, issuer: gw.gateway.config.publicUrl!, audience: 'svc-b' });
    const identity = await verifier.verify(assertion as string, { method: got.method, url: got.url });
    assert.equal(identity.subject, 'svc-a');
    assert.equal(identity.kind, 'service');
  });

  test('service A writing to B (POST) is denied with 403 and a decision id, never forwarded', async () => {
    const before = b.received.length;
    const r = await call('POST', '/b/items/42', tokens['svc-a']);
    assert.equal(r.status, 403);
    const body = JSON.parse(r.body) as { error: { code: string; decisionId?: string } };
    assert.equal(body.error.code, 'ERR_POLICY_DENIED');
    assert.match(body.error.decisionId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(b.received.length, before);
  });

  test('service A calling another route of B is denied', async () => {
    const r = await call('GET', '/b/admin/users', tokens['svc-a']);
    assert.equal(r.status, 403);
    assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'ERR_POLICY_DENIED');
  });

  test('service C calling the route A may call is denied', async () => {
    const before = b.received.length;
    const r = await call('GET', '/b/items/42', tokens['svc-c']);
    assert.equal(r.status, 403);
    assert.equal(b.received.length, before);
  });

  test('no token is 401 before any policy work', async () => {
    assert.equal((await call('GET', '/b/items/42')).status, 401);
  });
});
