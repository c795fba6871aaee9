/**
 * The gateway side of the assertion: the stage that fills ctx.upstreamHeaders, checked by
 * verifying what it produced with the SDK, as the upstream would.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { routeSchema, upstreamSchema } from '../../src/core/config/gateway-schema.ts';
import { RequestContext, type Identity } from '../../src/gateway/context.ts';
import type { Generation } from '../../src/gateway/generation.ts';
import { createAssertionSigner, type AssertionSigner } from '../../src/gateway/assertion/signer.ts';
import { createUpstreamIdentityStage, isReservedIdentityHeader, upstreamPathOf } from '../../src/gateway/assertion/upstream-identity.ts';
import { compileRouter } from '../../src/gateway/router/router.ts';
import { buildPools, destroyPools } from '../../src/gateway/upstream/pools.ts';
import { createAssertionVerifier, IDENTITY_ASSERTION_HEADER, type AssertionVerifier } from '../../src/sdk/index.ts';

const upstreams = { app: upstreamSchema.parse({ url: 'http://127.0.0.1:1/base/' }) };
const router = compileRouter([
  routeSchema.parse({ id: 'cached', path: '/app', upstream: 'app' }),
  routeSchema.parse({ id: 'bound', path: '/api', upstream: 'app', stripPrefix: true, upstreamIdentity: { assertion: 'per-request', headers: true } }),
  routeSchema.parse({ id: 'none', path: '/legacy', upstream: 'app', upstreamIdentity: { assertion: 'none' } }),
], upstreams, { maxBodyBytes: 1024 });
// The forwarder's pools know each upstream's base path; the assertion binds the same path.
const { pools } = buildPools(upstreams);
after(() => destroyPools(pools.values()));

const alice: Identity = { subject: 'alice', kind: 'user', roles: ['a', 'b,c'], method: 'session', amr: ['pwd'], authTime: 1, mfaTime: undefined, credentialId: 's1', issuer: undefined, attributes: {} };
let signer: AssertionSigner;
let verifier: AssertionVerifier;

before(async () => {
  signer = await createAssertionSigner({ issuer: 'https://gw.test' });
  verifier = createAssertionVerifier({ jwks: JSON.parse(signer.jwksJson()), issuer: 'https://gw.test', audience: 'app' });
});
after(() => signer.close());

function ctxFor(routeId: string, method: string, path: string, identity: Identity = alice): RequestContext {
  const req = new IncomingMessage(new Socket());
  const ctx = new RequestContext(req, new ServerResponse(req), { upstreams: pools } as unknown as Generation);
  ctx.requestId = `rid-${Math.random()}`;
  ctx.method = method;
  ctx.path = path;
  ctx.route = router.routes.find((r) => r.id === routeId)!;
  ctx.identity = identity;
  return ctx;
}

test('cached mode: first request signs, the next one is served synchronously from the cache', async () => {
  const stage = createUpstreamIdentityStage({ signer });
  const first = ctxFor('cached', 'GET', '/app/x');
  await stage(first);
  const second = ctxFor('cached', 'POST', '/app/y');
  assert.equal(stage(second), undefined, 'cache hit costs no promise');
  assert.equal(second.upstreamHeaders[IDENTITY_ASSERTION_HEADER], first.upstreamHeaders[IDENTITY_ASSERTION_HEADER]);
  const id = await verifier.verify(second.upstreamHeaders[IDENTITY_ASSERTION_HEADER], { method: 'POST', url: '/base/app/y' });
  assert.equal(id.subject, 'alice');
  assert.equal(second.upstreamHeaders['x-gatehouse-subject'], undefined, 'plain headers only when asked');
});

test('per-request mode binds the path the upstream sees (base path, prefix stripped)', async () => {
  const stage = createUpstreamIdentityStage({ signer });
  const ctx = ctxFor('bound', 'DELETE', '/api/messages/7');
  assert.equal(upstreamPathOf(ctx), '/base/messages/7');
  await stage(ctx);
  const token = ctx.upstreamHeaders[IDENTITY_ASSERTION_HEADER];
  const id = await verifier.verify(token, { method: 'DELETE', url: '/base/messages/7', requestId: ctx.requestId });
  assert.equal(id.requestId, ctx.requestId);
  await assert.rejects(verifier.verify(token, { method: 'DELETE', url: '/base/messages/8' }), { code: 'ERR_SDK_ASSERTION_BINDING' });
});

test('plain identity headers cannot carry CR/LF or split roles from a hostile subject', async () => {
  const stage = createUpstreamIdentityStage({ signer });
  const ctx = ctxFor('bound', 'GET', '/api/x', { ...alice, subject: 'eve\r\nx-gatehouse-roles: admin' });
  await stage(ctx);
  assert.equal(ctx.upstreamHeaders['x-gatehouse-subject'], 'eve%0D%0Ax-gatehouse-roles%3A%20admin');
  assert.equal(ctx.upstreamHeaders['x-gatehouse-roles'], 'a,b%2Cc');
  assert.equal(ctx.upstreamHeaders['x-gatehouse-kind'], 'user');
});

test('no assertion when the route says none, and none without an identity', async () => {
  const stage = createUpstreamIdentityStage({ signer });
  const none = ctxFor('none', 'GET', '/legacy');
  await stage(none);
  assert.deepEqual(none.upstreamHeaders, {});
  const anonymous = ctxFor('cached', 'GET', '/app');
  anonymous.identity = undefined;
  await stage(anonymous);
  assert.deepEqual(anonymous.upstreamHeaders, {});
});

test('reserved header names are recognised case-insensitively', () => {
  assert.equal(isReservedIdentityHeader('X-Gatehouse-Identity'), true);
  assert.equal(isReservedIdentityHeader('x-gatehouse-subject'), true);
  assert.equal(isReservedIdentityHeader('x-gatehousefoo'), false);
  assert.equal(isReservedIdentityHeader('authorization'), false);
});
