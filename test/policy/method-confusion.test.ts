/**
 * The method the policy sees must cover every method the upstream may act on: HEAD is
 * answered by GET handlers, and method-override headers make frameworks run another method.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { routeSchema, upstreamSchema } from '../../src/core/config/gateway-schema.ts';
import { GatehouseError } from '../../src/core/errors.ts';
import { RequestContext, type Identity } from '../../src/gateway/context.ts';
import type { Generation } from '../../src/gateway/generation.ts';
import { createAuthorizeStage } from '../../src/gateway/pipeline/authorize.ts';
import { compileRouter } from '../../src/gateway/router/router.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';

const router = compileRouter([
  routeSchema.parse({ id: 'docs', path: '/docs', upstream: 'app', policy: 'docs' }),
], { app: upstreamSchema.parse({ url: 'http://127.0.0.1:1' }) }, { maxBodyBytes: 1024 });
const docs = router.routes.find((r) => r.id === 'docs')!;

const alice: Identity = { subject: 'alice', kind: 'user', roles: ['editor'], method: 'session', amr: ['pwd'], authTime: undefined, mfaTime: undefined, credentialId: 's1', issuer: undefined, attributes: {} };

function ctxFor(method: string, path: string, headers: Record<string, string> = {}, query = ''): RequestContext {
  const message = new IncomingMessage(new Socket());
  Object.assign(message.headers, headers);
  const ctx = new RequestContext(message, new ServerResponse(message), {} as Generation);
  ctx.requestId = 'req-1';
  ctx.method = method;
  ctx.path = path;
  ctx.query = query;
  ctx.clientAddress = '192.0.2.10';
  ctx.route = docs;
  ctx.identity = alice;
  return ctx;
}

function engine(): PolicyEngine {
  const e = new PolicyEngine();
  e.setDirectory({ operations: { docs: [{ name: 'export', method: 'GET', path: '/docs/export' }] } });
  e.load('docs', {
    policies: [
      '@id("editors-read") permit(principal in Gatehouse::Role::"editor", action in Gatehouse::Action::"read", resource == Gatehouse::Route::"docs");',
      '@id("editors-post") permit(principal in Gatehouse::Role::"editor", action == Gatehouse::Action::"POST", resource == Gatehouse::Route::"docs");',
      '@id("no-export") forbid(principal, action == Gatehouse::Action::"export", resource);',
      '@id("no-secret-get") forbid(principal, action == Gatehouse::Action::"GET", resource) when { context.path == "/docs/secret" };',
    ].join('\n'),
  });
  return e;
}

function denied(stage: ReturnType<typeof createAuthorizeStage>, ctx: RequestContext): void {
  assert.throws(() => stage(ctx), (err: unknown) => err instanceof GatehouseError && err.code === 'ERR_POLICY_DENIED');
  assert.equal(ctx.authorized, false);
}

describe('authorize: method confusion', () => {
  test('denies HEAD on a path whose GET operation is forbidden (upstreams run GET handlers for HEAD)', () => {
    const stage = createAuthorizeStage({ engine: engine() });
    denied(stage, ctxFor('GET', '/docs/export'));
    denied(stage, ctxFor('HEAD', '/docs/export'));
  });

  test('denies HEAD where a forbid names GET', () => {
    const stage = createAuthorizeStage({ engine: engine() });
    denied(stage, ctxFor('HEAD', '/docs/secret'));
  });

  test('denies a permitted POST carrying X-HTTP-Method-Override: DELETE (any case, any of the override headers)', () => {
    const stage = createAuthorizeStage({ engine: engine() });
    denied(stage, ctxFor('POST', '/docs/a', { 'x-http-method-override': 'DELETE' }));
    denied(stage, ctxFor('POST', '/docs/a', { 'x-http-method-override': 'delete' }));
    denied(stage, ctxFor('POST', '/docs/a', { 'x-http-method': ' Delete ' }));
    denied(stage, ctxFor('POST', '/docs/a', { 'x-method-override': 'PUT' }));
  });

  test('denies a permitted POST carrying ?_method=DELETE in the query (any case, encoded name, array form)', () => {
    const stage = createAuthorizeStage({ engine: engine() });
    denied(stage, ctxFor('POST', '/docs/a', {}, '_method=DELETE'));
    denied(stage, ctxFor('POST', '/docs/a', {}, 'a=1&_method=delete'));
    denied(stage, ctxFor('POST', '/docs/a', {}, '%5Fmethod=PUT'));
    denied(stage, ctxFor('POST', '/docs/a', {}, '_%6Dethod=DELETE'));
    denied(stage, ctxFor('POST', '/docs/a', {}, '_method=%44ELETE'));
    denied(stage, ctxFor('POST', '/docs/a', {}, '_method[]=PATCH'));
    const ok = ctxFor('POST', '/docs/a', {}, 'method=DELETE&_method=post');
    stage(ok);
    assert.equal(ok.authorized, true);
  });

  test('denies a permitted POST whose query names DELETE in a spelling PHP reads as _method (?.method=, ?+_method=, ?%20_method=, ?_method%00x=)', () => {
    const stage = createAuthorizeStage({ engine: engine() });
    for (const query of ['.method=DELETE', '+_method=DELETE', '%20_method=DELETE', '%20%20.method=DELETE', '_method%00x=DELETE', '_method.=DELETE'.replace('.', '%00')]) {
      denied(stage, ctxFor('POST', '/docs/a', {}, query));
    }
    const ok = ctxFor('POST', '/docs/a', {}, 'x.method=DELETE&method_=DELETE');
    stage(ok);
    assert.equal(ok.authorized, true, 'keys that are not _method in any spelling name no method');
  });

  test('denies a permitted POST overridden to GET on a forbidden GET operation', () => {
    const stage = createAuthorizeStage({ engine: engine() });
    denied(stage, ctxFor('POST', '/docs/export', { 'x-http-method-override': 'GET' }));
    denied(stage, ctxFor('POST', '/docs/export', { 'x-http-method-override': 'HEAD' }));
  });

  test('still allows HEAD and GET where GET is allowed, and an override naming a permitted method', () => {
    const stage = createAuthorizeStage({ engine: engine() });
    for (const ctx of [ctxFor('HEAD', '/docs/a'), ctxFor('GET', '/docs/a'), ctxFor('POST', '/docs/a'), ctxFor('POST', '/docs/a', { 'x-http-method-override': 'POST' })]) {
      stage(ctx);
      assert.equal(ctx.authorized, true, `${ctx.method} ${ctx.path}`);
    }
  });

  test('the denying decision is the one the client can quote', () => {
    const e = engine();
    const stage = createAuthorizeStage({ engine: e });
    const ctx = ctxFor('HEAD', '/docs/export');
    assert.throws(() => stage(ctx), { code: 'ERR_POLICY_DENIED' });
    const d = e.decision(ctx.decisionId!)!;
    assert.equal(d.allowed, false);
    assert.deepEqual(d.reasons, ['no-export']);
  });
});
