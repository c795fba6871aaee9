import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Socket } from 'node:net';
import { routeSchema, upstreamSchema } from '../../src/core/config/gateway-schema.ts';
import { GatehouseError } from '../../src/core/errors.ts';
import { RequestContext, type Identity } from '../../src/gateway/context.ts';
import type { Generation } from '../../src/gateway/generation.ts';
import { createAuthorizeStage } from '../../src/gateway/pipeline/authorize.ts';
import { writeErrorResponse } from '../../src/gateway/respond-error.ts';
import { compileRouter } from '../../src/gateway/router/router.ts';
import type { CompiledRoute } from '../../src/gateway/router/types.ts';
import type { PolicyDecisionEvent } from '../../src/policy/decision-event.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import type { AuthorizationRequest, PolicyDecision } from '../../src/policy/types.ts';

const router = compileRouter([
  routeSchema.parse({ id: 'open', path: '/open', upstream: 'app', access: 'public' }),
  routeSchema.parse({ id: 'any', path: '/any', upstream: 'app', access: 'authenticated' }),
  routeSchema.parse({ id: 'docs', path: '/docs', upstream: 'app', policy: 'docs' }),
], { app: upstreamSchema.parse({ url: 'http://127.0.0.1:1' }) }, { maxBodyBytes: 1024 });

function route(id: string): CompiledRoute {
  return router.routes.find((r) => r.id === id)!;
}

const alice: Identity = { subject: 'alice', kind: 'user', roles: ['reader'], method: 'session', amr: ['pwd'], authTime: undefined, mfaTime: undefined, credentialId: 's1', issuer: undefined, attributes: {} };

function ctxFor(r: CompiledRoute, identity: Identity | undefined, headers: Record<string, string> = {}, req?: IncomingMessage, res?: ServerResponse): RequestContext {
  const message = req ?? new IncomingMessage(new Socket());
  if (!req) Object.assign(message.headers, headers);
  const ctx = new RequestContext(message, res ?? new ServerResponse(message), {} as Generation);
  ctx.requestId = 'req-1';
  ctx.method = 'GET';
  ctx.path = `${r.prefix}/x`;
  ctx.clientAddress = '192.0.2.10';
  ctx.route = r;
  ctx.identity = identity;
  return ctx;
}

function engine(): PolicyEngine {
  const e = new PolicyEngine();
  e.load('docs', { policies: '@id("readers") permit(principal in Gatehouse::Role::"reader", action == Gatehouse::Action::"GET", resource == Gatehouse::Route::"docs");\n@id("tenant") forbid(principal, action, resource) when { context has headers && context.headers has "x-tenant" && context.headers["x-tenant"] == "blocked" };' });
  return e;
}

describe('authorize stage', () => {
  test('does nothing on public and authenticated routes', () => {
    const stage = createAuthorizeStage({ engine: engine() });
    for (const id of ['open', 'any']) {
      const ctx = ctxFor(route(id), alice);
      assert.equal(stage(ctx), undefined);
      assert.equal(ctx.decisionId, undefined);
    }
  });

  test('allows synchronously and records the decision id', () => {
    const events: PolicyDecisionEvent[] = [];
    const stage = createAuthorizeStage({ engine: engine(), publish: (e) => events.push(e) });
    const ctx = ctxFor(route('docs'), alice);
    assert.equal(stage(ctx), undefined, 'no promise: the engine is synchronous');
    assert.equal(typeof ctx.decisionId, 'string');
    assert.equal(events.length, 1);
    const { input, ...event } = events[0]!;
    assert.deepEqual({ ...event, decisionId: 'x' }, {
      decisionId: 'x', requestId: 'req-1', routeId: 'docs', allowed: true, basis: 'permit', policySet: 'docs',
      policySetVersion: engine().getSet('docs')!.version, reasons: ['readers'], errors: [],
      principal: 'Gatehouse::User::"alice"', action: 'Gatehouse::Action::"GET"', resource: 'Gatehouse::Route::"docs"', cached: false,
    });
    // The replayable inputs: only what the set reads (context.headers; no contextHeaders are configured, so none).
    assert.deepEqual(input?.principal, { kind: 'user', id: 'alice', roles: ['reader'], attributes: {} });
    assert.deepEqual(input?.recorded, { attributes: [], context: ['headers'] });
    assert.deepEqual(input?.context, {});
  });

  test('refuses a principal the policy does not allow with 403 ERR_POLICY_DENIED carrying the decision id', () => {
    const e = engine();
    const stage = createAuthorizeStage({ engine: e });
    const ctx = ctxFor(route('docs'), { ...alice, roles: [] });
    assert.throws(() => stage(ctx), (err: unknown) => {
      assert.ok(err instanceof GatehouseError);
      assert.equal(err.code, 'ERR_POLICY_DENIED');
      assert.equal(err.status, 403);
      assert.equal(err.data?.decisionId, ctx.decisionId);
      assert.equal(e.decision(ctx.decisionId!)?.basis, 'no-permit');
      return true;
    });
  });

  test('refuses a request without identity on a policy route (fail closed)', () => {
    const stage = createAuthorizeStage({ engine: engine() });
    assert.throws(() => stage(ctxFor(route('docs'), undefined)), { code: 'ERR_AUTHN_REQUIRED' });
  });

  test('an engine failure is 503 ERR_POLICY_UNAVAILABLE, never an allow', () => {
    class BrokenEngine extends PolicyEngine {
      override authorize(_req: AuthorizationRequest): PolicyDecision {
        throw new Error('wasm trap');
      }
    }
    const stage = createAuthorizeStage({ engine: new BrokenEngine() });
    assert.throws(() => stage(ctxFor(route('docs'), alice)), { code: 'ERR_POLICY_UNAVAILABLE', status: 503 });
  });

  test('a failing event publisher does not change the decision', () => {
    const stage = createAuthorizeStage({ engine: engine(), publish: () => { throw new Error('bus down'); } });
    const ctx = ctxFor(route('docs'), alice);
    stage(ctx);
    assert.equal(typeof ctx.decisionId, 'string');
  });

  test('copies configured headers into context, never credential headers', () => {
    const e = engine();
    const stage = createAuthorizeStage({ engine: e, contextHeaders: ['x-tenant', 'authorization', 'cookie', 'x-gatehouse-identity'] });
    assert.throws(() => stage(ctxFor(route('docs'), alice, { 'x-tenant': 'blocked' })), { code: 'ERR_POLICY_DENIED' });
    stage(ctxFor(route('docs'), alice, { 'x-tenant': 'acme', authorization: 'Bearer secret' }));
    const seen: AuthorizationRequest[] = [];
    const spy = new PolicyEngine({ onDecision: (_d, r) => seen.push(r) });
    try {
      createAuthorizeStage({ engine: spy, contextHeaders: ['x-tenant', 'authorization', 'cookie'] })(ctxFor(route('docs'), alice, { 'x-tenant': 'acme', authorization: 'Bearer secret', cookie: 'sid=1' }));
    } catch { /* denied: the set is missing in this engine */ }
    assert.deepEqual(seen[0]?.context.headers, { 'x-tenant': 'acme' });
  });

  test('a denied client receives the decision id in the response body', async () => {
    const e = engine();
    const stage = createAuthorizeStage({ engine: e });
    const server = createServer((req, res) => {
      const ctx = ctxFor(route('docs'), { ...alice, roles: [] }, {}, req, res);
      try {
        stage(ctx);
        res.end('allowed');
      } catch (err) {
        writeErrorResponse(res, err as GatehouseError, ctx.requestId, req.headers.accept);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/docs/x`);
      assert.equal(res.status, 403);
      const body = await res.json() as { error: { code: string; decisionId: string } };
      assert.equal(body.error.code, 'ERR_POLICY_DENIED');
      assert.match(e.explain(e.decision(body.error.decisionId)!), /default deny/);
    } finally {
      server.close();
    }
  });
});
