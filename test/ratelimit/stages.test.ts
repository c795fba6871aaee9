/**
 * The edge and per-identity rate-limit stages on a real RequestContext (real
 * IncomingMessage/ServerResponse objects, in-memory limiter and bus).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { RequestContext, type Identity } from '../../src/gateway/context.ts';
import type { Generation } from '../../src/gateway/generation.ts';
import type { CompiledRoute } from '../../src/gateway/router/types.ts';
import { createEdgeRateLimitStage } from '../../src/gateway/pipeline/edge-rate-limit.ts';
import { createRateLimitStage, identityRateLimitKey } from '../../src/gateway/pipeline/rate-limit.ts';
import { ratelimitSchema } from '../../src/core/config/ratelimit-schema.ts';
import { MemoryRateLimiter } from '../../src/ratelimit/memory-limiter.ts';
import { MemoryEventBus } from '../../src/bus/memory-bus.ts';
import { GatehouseError } from '../../src/core/errors.ts';
import type { Envelope, RateLimitExceededEvent } from '../../src/core/events.ts';
import type { RateLimiter } from '../../src/ratelimit/types.ts';
import { waitFor } from '../bus/contract.ts';

function context(clientAddress: string, routeId?: string, subject?: string): RequestContext {
  const req = new IncomingMessage(new Socket());
  const res = new ServerResponse(req);
  const ctx = new RequestContext(req, res, {} as Generation);
  ctx.requestId = `req-${Math.random().toString(36).slice(2)}`;
  ctx.clientAddress = clientAddress;
  if (routeId) ctx.route = { id: routeId } as CompiledRoute;
  if (subject) {
    ctx.identity = { subject, kind: 'user', roles: [], method: 'jwt', amr: [], authTime: undefined, mfaTime: undefined, credentialId: undefined, issuer: 'https://idp.example', attributes: {} } satisfies Identity;
  }
  return ctx;
}

function refusal(fn: () => unknown): GatehouseError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof GatehouseError);
    return error;
  }
  assert.fail('expected the stage to refuse the request');
}

const config = ratelimitSchema.parse({
  edge: { rate: 1, periodMs: 60_000, burst: 3 },
  identity: { rate: 1, periodMs: 60_000, burst: 2, routes: { login: { rate: 1, periodMs: 60_000, burst: 1 } } },
});

describe('edge rate limit stage', () => {
  it('refuses the request after the burst with 429, RateLimit headers and a ratelimit.exceeded event', async () => {
    const bus = new MemoryEventBus({ instanceId: 't' });
    const events: Envelope[] = [];
    bus.subscribe(['ratelimit.exceeded'], (e) => {
      events.push(e);
    });
    const stage = createEdgeRateLimitStage(config, { limiter: new MemoryRateLimiter(), bus });
    assert.ok(stage);
    assert.equal(stage.name, 'edgeRateLimit');
    for (let i = 0; i < 3; i++) assert.equal(stage(context('203.0.113.7')), undefined, 'synchronous with the memory limiter');
    const ctx = context('203.0.113.7', 'mail');
    const error = refusal(() => stage(ctx));
    assert.equal(error.code, 'ERR_RATELIMIT_EXCEEDED');
    assert.equal(error.status, 429);
    assert.equal(error.headers?.['Retry-After'], '60');
    assert.equal(error.headers?.['RateLimit-Policy'], '"edge";q=3;w=180');
    assert.equal(error.headers?.RateLimit, '"edge";r=0;t=60');
    await waitFor(() => events.length === 1);
    const payload = events[0]?.payload as RateLimitExceededEvent;
    assert.deepEqual({ ...payload }, { scope: 'edge', policy: 'edge', requestId: ctx.requestId, clientAddress: '203.0.113.7', routeId: 'mail', limit: 3, retryAfterMs: payload.retryAfterMs });
    assert.ok(payload.retryAfterMs > 59_000);
    await bus.close();
  });

  it('keeps client addresses apart: one flooding address does not limit another', () => {
    const stage = createEdgeRateLimitStage(config, { limiter: new MemoryRateLimiter() });
    assert.ok(stage);
    for (let i = 0; i < 3; i++) stage(context('203.0.113.7'));
    refusal(() => stage(context('203.0.113.7')));
    assert.equal(stage(context('198.51.100.1')), undefined);
  });

  it('an IPv6 client rotating through the addresses of its /64 shares one bucket and is refused after the burst; another /64 is not', () => {
    const stage = createEdgeRateLimitStage(config, { limiter: new MemoryRateLimiter() });
    assert.ok(stage);
    for (let i = 1; i <= 3; i++) assert.equal(stage(context(`2001:db8:1:2::${i.toString(16)}`)), undefined);
    assert.equal(refusal(() => stage(context('2001:db8:1:2:a:b:c:d'))).code, 'ERR_RATELIMIT_EXCEEDED');
    assert.equal(stage(context('2001:db8:1:3::1')), undefined, 'the neighbouring /64 has its own bucket');
    // NAT64 addresses each stand for another IPv4 client: not grouped.
    for (let i = 1; i <= 3; i++) stage(context(`64:ff9b::c000:20${i}`));
    assert.equal(stage(context('64:ff9b::c000:204')), undefined);
  });

  it('an IPv6 client rotating through the /64s of its /48 is refused once the /48\'s aggregate (factor × burst) is spent; the next /48 is not', () => {
    const stage = createEdgeRateLimitStage(config, { limiter: new MemoryRateLimiter() });
    assert.ok(stage);
    // Default factor 10: 30 requests from 30 fresh /64s of 2001:db8:aa::/48, then refused.
    for (let i = 1; i <= 30; i++) assert.equal(stage(context(`2001:db8:aa:${i.toString(16)}::1`)), undefined, `request ${i}`);
    const error = refusal(() => stage(context('2001:db8:aa:ffff::1')));
    assert.equal(error.code, 'ERR_RATELIMIT_EXCEEDED');
    assert.equal(error.headers?.['RateLimit-Policy'], '"edge-ipv6-prefix";q=30;w=180', 'ten times the burst, refilled in the same time');
    assert.equal(error.headers?.['Retry-After'], '6', 'one interval of the aggregate (60 s / 10)');
    assert.equal(stage(context('2001:db8:ab:1::1')), undefined, 'the neighbouring /48 has its own aggregate');
    assert.equal(stage(context('203.0.113.7')), undefined, 'IPv4 clients have none');
  });

  it('one host flooding from its /64 is refused by its own bucket and does not spend its /48 neighbours\' aggregate', () => {
    const stage = createEdgeRateLimitStage(config, { limiter: new MemoryRateLimiter() });
    assert.ok(stage);
    let refused = 0;
    for (let i = 0; i < 1000; i++) {
      try { stage(context('2001:db8:cc:1::1')); } catch { refused++; }
    }
    assert.equal(refused, 997);
    // 3 spent by the flooder: 27 left for the other /64s of the /48.
    for (let i = 2; i <= 28; i++) assert.equal(stage(context(`2001:db8:cc:${i.toString(16)}::1`)), undefined, `neighbour ${i}`);
    assert.equal(refusal(() => stage(context('2001:db8:cc:ff::1'))).code, 'ERR_RATELIMIT_EXCEEDED');
  });

  it('the prefix length and factor follow the configuration, and the aggregate can be switched off', () => {
    const at56 = createEdgeRateLimitStage(ratelimitSchema.parse({ edge: { rate: 1, periodMs: 60_000, burst: 1, ipv6Prefix: { length: 56, factor: 2 } } }), { limiter: new MemoryRateLimiter() });
    assert.ok(at56);
    at56(context('2001:db8:1:100::1'));
    at56(context('2001:db8:1:101::1'));
    assert.equal(refusal(() => at56(context('2001:db8:1:1ff::1'))).code, 'ERR_RATELIMIT_EXCEEDED', 'same /56');
    assert.equal(at56(context('2001:db8:1:200::1')), undefined, 'another /56');
    const off = createEdgeRateLimitStage(ratelimitSchema.parse({ edge: { rate: 1, periodMs: 60_000, burst: 1, ipv6Prefix: { enabled: false } } }), { limiter: new MemoryRateLimiter() });
    assert.ok(off);
    for (let i = 1; i <= 100; i++) assert.equal(off(context(`2001:db8:2:${i.toString(16)}::1`)), undefined);
  });

  it('NAT64 clients (each another IPv4 client) are not aggregated into 64:ff9b::/48', () => {
    const stage = createEdgeRateLimitStage(config, { limiter: new MemoryRateLimiter() });
    assert.ok(stage);
    for (let i = 1; i <= 40; i++) assert.equal(stage(context(`64:ff9b::c000:${(0x200 + i).toString(16)}`)), undefined);
  });

  it('is left out of the pipeline when disabled', () => {
    assert.equal(createEdgeRateLimitStage(ratelimitSchema.parse({ edge: { enabled: false } }), { limiter: new MemoryRateLimiter() }), undefined);
  });
});

describe('per-identity rate limit stage', () => {
  it('limits per identity and route, and sets RateLimit headers on allowed responses', () => {
    const stage = createRateLimitStage(config, { limiter: new MemoryRateLimiter() });
    assert.ok(stage);
    assert.equal(stage.name, 'rateLimit');
    const first = context('203.0.113.7', 'mail', 'alice');
    stage(first);
    // Collected for the writer of the response head, not set on the response (see RequestContext.responseHeaders).
    assert.deepEqual(first.responseHeaders, ['RateLimit-Policy', '"identity";q=2;w=120', 'RateLimit', '"identity";r=1;t=60']);
    assert.equal(first.res.getHeader('RateLimit'), undefined);
    stage(context('203.0.113.7', 'mail', 'alice'));
    assert.equal(refusal(() => stage(context('203.0.113.7', 'mail', 'alice'))).code, 'ERR_RATELIMIT_EXCEEDED');
    // Same address, another identity: its own bucket. Same identity, another route: its own bucket.
    assert.equal(stage(context('203.0.113.7', 'mail', 'bob')), undefined);
    assert.equal(stage(context('203.0.113.7', 'files', 'alice')), undefined);
  });

  it('a client behind a shared address (NAT) is not limited by another identity on that address', () => {
    const stage = createRateLimitStage(config, { limiter: new MemoryRateLimiter() });
    assert.ok(stage);
    for (let i = 0; i < 2; i++) stage(context('192.0.2.1', 'mail', 'mallory'));
    refusal(() => stage(context('192.0.2.1', 'mail', 'mallory')));
    assert.equal(stage(context('192.0.2.1', 'mail', 'carol')), undefined);
  });

  it('anonymous requests from rotating addresses of one IPv6 /64 share one bucket per route', () => {
    const stage = createRateLimitStage(config, { limiter: new MemoryRateLimiter() });
    assert.ok(stage);
    stage(context('2001:db8:5:6::1', 'mail'));
    stage(context('2001:db8:5:6::2', 'mail'));
    assert.equal(refusal(() => stage(context('2001:db8:5:6:ffff::9', 'mail'))).code, 'ERR_RATELIMIT_EXCEEDED');
    assert.equal(identityRateLimitKey(context('2001:db8:5:6::1', 'mail')), identityRateLimitKey(context('2001:db8:5:6:1:2:3:4', 'mail')));
  });

  it('anonymous requests from rotating /64s of one /48 are refused once the route\'s /48 aggregate is spent; authenticated ones are keyed by identity only', () => {
    const stage = createRateLimitStage(config, { limiter: new MemoryRateLimiter() });
    assert.ok(stage);
    // The login override (burst 1) × factor 10: ten fresh /64s, then refused.
    for (let i = 1; i <= 10; i++) assert.equal(stage(context(`2001:db8:77:${i.toString(16)}::1`, 'login')), undefined, `request ${i}`);
    const error = refusal(() => stage(context('2001:db8:77:ff::1', 'login')));
    assert.equal(error.headers?.['RateLimit-Policy'], '"identity-ipv6-prefix";q=10;w=60');
    assert.equal(stage(context('2001:db8:77:ff::1', 'mail')), undefined, 'another route: its own aggregate');
    assert.equal(stage(context('2001:db8:77:ff::1', 'login', 'alice')), undefined, 'an authenticated request is not keyed by address');
  });

  it('applies a per-route override', () => {
    const stage = createRateLimitStage(config, { limiter: new MemoryRateLimiter() });
    assert.ok(stage);
    stage(context('203.0.113.7', 'login', 'alice'));
    assert.equal(refusal(() => stage(context('203.0.113.7', 'login', 'alice'))).code, 'ERR_RATELIMIT_EXCEEDED');
  });

  it('a subject containing the key separator cannot collide with another identity\'s bucket', () => {
    const a = context('203.0.113.7', 'mail', 'alice|mail');
    const b = context('203.0.113.7', 'mail|mail', 'alice');
    assert.notEqual(identityRateLimitKey(a), identityRateLimitKey(b));
    const anon = context('203.0.113.7', 'mail');
    assert.match(identityRateLimitKey(anon), /^ip:/);
  });

  it('one principal switching credentials (session, Gatehouse JWT, API token: other issuer fields) spends one bucket, not one per credential', () => {
    const session = context('203.0.113.7', 'mail', 'usr_alice');
    const jwt = context('203.0.113.7', 'mail', 'usr_alice');
    jwt.identity = { ...jwt.identity!, issuer: 'https://gatehouse.example.com' };
    assert.equal(identityRateLimitKey(session), identityRateLimitKey(jwt));
    const stage = createRateLimitStage(config, { limiter: new MemoryRateLimiter() });
    assert.ok(stage);
    stage(session);
    stage(jwt);
    const third = context('203.0.113.7', 'mail', 'usr_alice');
    third.identity = { ...third.identity!, issuer: 'https://gatehouse.example.com/other' };
    assert.equal(refusal(() => stage(third)).code, 'ERR_RATELIMIT_EXCEEDED');
  });

  it('crafted routes, subjects and addresses that embed the key\'s separators and length prefixes never share a bucket', () => {
    // Every combination of hostile parts must map to its own key (the key function is injective).
    // Issuers are not part of it: another issuer's subjects are `<issuer>#<sub>` already (authn/principal.ts).
    const parts = ['', 'a', ' ', ':', '1:a', 'a 1:b', '1:a 1:b', '0: ', '["a","b"]', 'a\u0000b'];
    const seen = new Map<string, string>();
    for (const route of parts) for (const subject of parts) {
      const ctx = context('203.0.113.7', route || undefined, subject || 'x');
      ctx.identity = { ...ctx.identity!, subject };
      if (route === '') ctx.route = { id: '' } as CompiledRoute;
      const who = JSON.stringify(['id', route, subject]);
      const key = identityRateLimitKey(ctx);
      assert.equal(seen.get(key) ?? who, who, `${who} shares a bucket with ${seen.get(key)}`);
      seen.set(key, who);
    }
    for (const address of parts) for (const route of parts) {
      const ctx = context(address, route || undefined);
      ctx.route = { id: route } as CompiledRoute;
      const who = JSON.stringify(['ip', address, route]);
      const key = identityRateLimitKey(ctx);
      assert.equal(seen.get(key) ?? who, who, `${who} shares a bucket with ${seen.get(key)}`);
      seen.set(key, who);
    }
    assert.equal(seen.size, parts.length ** 2 * 2);
  });

  it('charges the bucket identityRateLimitKey names, with the route\'s own limit, on every route and without one', () => {
    const charged: string[] = [];
    const recorder = new MemoryRateLimiter();
    const limiter: RateLimiter = {
      consume: (key, limit, cost) => {
        charged.push(`${key} burst ${limit.burst}`);
        return recorder.consume(key, limit, cost);
      },
      health: () => recorder.health(),
      close: () => recorder.close(),
    };
    const stage = createRateLimitStage(config, { limiter });
    assert.ok(stage);
    const requests = [context('203.0.113.7', 'mail', 'alice'), context('203.0.113.7', 'login', 'alice'), context('203.0.113.7', 'mail'),
      context('203.0.113.8', 'mail'), context('203.0.113.7'), context('203.0.113.7', undefined, 'alice'), context('203.0.113.9', 'mail', 'bob')];
    for (const ctx of requests) stage(ctx);
    assert.deepEqual(charged, requests.map((ctx) => `${identityRateLimitKey(ctx)} burst ${ctx.route?.id === 'login' ? 1 : 2}`));
    void limiter.close();
  });

  it('a limit loosened by a configuration reload lets a client the old limit refused back in after one interval of the new limit', () => {
    let now = 1_000;
    const limiter = new MemoryRateLimiter({ now: () => now });
    // A reload builds the stages of the new generation on the same limiter.
    const before = createRateLimitStage(config, { limiter });
    const after = createRateLimitStage(ratelimitSchema.parse({ identity: { rate: 10, periodMs: 1000, burst: 5 } }), { limiter });
    assert.ok(before && after);
    for (let i = 0; i < 2; i++) before(context('203.0.113.7', 'mail', 'alice'));
    assert.equal(refusal(() => before(context('203.0.113.7', 'mail', 'alice'))).headers?.['Retry-After'], '60');
    const again = refusal(() => after(context('203.0.113.7', 'mail', 'alice')));
    assert.equal(again.headers?.['Retry-After'], '1', 'one interval of the new limit (100 ms), rounded up');
    now += 100;
    assert.equal(after(context('203.0.113.7', 'mail', 'alice')), undefined);
    void limiter.close();
  });

  it('fails closed with 503 ERR_RATELIMIT_UNAVAILABLE when the backend is down, and reports it once per interval', async () => {
    const bus = new MemoryEventBus({ instanceId: 't' });
    const events: Envelope[] = [];
    bus.subscribe(['ratelimit.unavailable'], (e) => {
      events.push(e);
    });
    const down: RateLimiter = {
      consume: async () => {
        throw new GatehouseError('ERR_RATELIMIT_UNAVAILABLE', { detail: 'connect ECONNREFUSED 127.0.0.1:6379' });
      },
      health: async () => ({ ok: false, latencyMs: 0 }),
      close: async () => {},
    };
    const stage = createRateLimitStage(config, { limiter: down, bus });
    assert.ok(stage);
    for (let i = 0; i < 5; i++) {
      await assert.rejects(Promise.resolve(stage(context('203.0.113.7', 'mail', 'alice'))), (e: unknown) => e instanceof GatehouseError && e.code === 'ERR_RATELIMIT_UNAVAILABLE' && e.status === 503);
    }
    await bus.flush();
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]?.payload, { scope: 'identity', failOpen: false, detail: 'connect ECONNREFUSED 127.0.0.1:6379', suppressed: 0 });
    await bus.close();
  });

  it('lets a degraded (fail-open) decision through without RateLimit headers', async () => {
    const open: RateLimiter = {
      consume: async (_k, limit) => ({ allowed: true, limit: limit.burst, remaining: limit.burst, resetAfterMs: 0, retryAfterMs: 0, windowMs: 0, degraded: true }),
      health: async () => ({ ok: false, latencyMs: 0 }),
      close: async () => {},
    };
    const stage = createRateLimitStage(config, { limiter: open });
    assert.ok(stage);
    const ctx = context('203.0.113.7', 'mail', 'alice');
    await stage(ctx);
    assert.equal(ctx.responseHeaders, undefined);
    assert.equal(ctx.res.getHeader('RateLimit'), undefined);
  });
});
