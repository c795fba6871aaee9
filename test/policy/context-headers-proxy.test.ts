/**
 * Proxy headers in `context.headers` obey the same trust as on the upstream request: an
 * untrusted client cannot put a chosen X-Real-IP or X-Forwarded-User in front of a policy.
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
  routeSchema.parse({ id: 'ops', path: '/ops', upstream: 'app', policy: 'ops' }),
], { app: upstreamSchema.parse({ url: 'http://127.0.0.1:1' }) }, { maxBodyBytes: 1024 });
const ops = router.routes.find((r) => r.id === 'ops')!;
const mallory: Identity = { subject: 'mallory', kind: 'user', roles: [], method: 'session', amr: ['pwd'], authTime: undefined, mfaTime: undefined, credentialId: 's1', issuer: undefined, attributes: {} };

function ctxFor(headers: Record<string, string>, peerTrusted: boolean): RequestContext {
  const message = new IncomingMessage(new Socket());
  Object.assign(message.headers, headers);
  const ctx = new RequestContext(message, new ServerResponse(message), {} as Generation);
  ctx.method = 'GET';
  ctx.path = '/ops/x';
  ctx.clientAddress = '203.0.113.9';
  ctx.peerTrusted = peerTrusted;
  ctx.route = ops;
  ctx.identity = mallory;
  return ctx;
}

function stage() {
  const engine = new PolicyEngine();
  engine.load('ops', {
    policies: '@id("office") permit(principal, action, resource) when { context has headers && ((context.headers has "x-real-ip" && context.headers["x-real-ip"] == "10.0.0.5") || (context.headers has "x-forwarded-user" && context.headers["x-forwarded-user"] == "admin") || (context.headers has "x-forwarded-for" && context.headers["x-forwarded-for"] == "10.0.0.5")) };',
  });
  return createAuthorizeStage({ engine, contextHeaders: ['x-real-ip', 'x-forwarded-user', 'x-forwarded-for'] });
}

describe('proxy headers in policy context', () => {
  test('denies an untrusted client that sends X-Real-IP, X-Forwarded-User or X-Forwarded-For of its choosing', () => {
    const s = stage();
    for (const h of [{ 'x-real-ip': '10.0.0.5' }, { 'x-forwarded-user': 'admin' }, { 'x-forwarded-for': '10.0.0.5' }] as Record<string, string>[]) {
      assert.throws(() => s(ctxFor(h, false)), (err: unknown) => err instanceof GatehouseError && err.code === 'ERR_POLICY_DENIED', JSON.stringify(h));
    }
  });

  test("X-Forwarded-For is never policy input, even from a trusted proxy (its first entries are the client's)", () => {
    assert.throws(() => stage()(ctxFor({ 'x-forwarded-for': '10.0.0.5' }, true)), { code: 'ERR_POLICY_DENIED' });
  });

  test("a trusted proxy's X-Real-IP and X-Forwarded-User still reach the policy", () => {
    const s = stage();
    for (const h of [{ 'x-real-ip': '10.0.0.5' }, { 'x-forwarded-user': 'admin' }] as Record<string, string>[]) {
      const ctx = ctxFor(h, true);
      s(ctx);
      assert.equal(ctx.authorized, true, JSON.stringify(h));
    }
  });
});
