/**
 * An IPv6 client rotating through the /64s of its /48 is refused by the prefix aggregate once
 * it is spent, but each fresh /64 used to be charged (and so stored, in debt) before the
 * aggregate said no: a free /48 made 65 536 keys in debt per window. With the in-memory
 * limiter those pushed out the oldest keys in debt, forgiving other clients (the attacker's
 * own identity included) their limits; with Redis each one was a key until its bucket refilled.
 * Once the aggregate is empty, a request is refused without touching its /64's bucket.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { RequestContext, type Identity } from '../../src/gateway/context.ts';
import type { Generation } from '../../src/gateway/generation.ts';
import type { CompiledRoute } from '../../src/gateway/router/types.ts';
import { createEdgeRateLimitStage } from '../../src/gateway/pipeline/edge-rate-limit.ts';
import { createRateLimitStage } from '../../src/gateway/pipeline/rate-limit.ts';
import { ratelimitSchema } from '../../src/core/config/ratelimit-schema.ts';
import { MemoryRateLimiter } from '../../src/ratelimit/memory-limiter.ts';
import { GatehouseError } from '../../src/core/errors.ts';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createRedisRateLimiter } from '../../src/ratelimit/redis-limiter.ts';
import { REDIS_URL, serviceOrSkip } from '../support/services.ts';

function context(clientAddress: string, routeId: string, subject?: string): RequestContext {
  const ctx = new RequestContext(new IncomingMessage(new Socket()), new ServerResponse(new IncomingMessage(new Socket())), {} as Generation);
  ctx.requestId = 'req';
  ctx.clientAddress = clientAddress;
  ctx.route = { id: routeId } as CompiledRoute;
  if (subject) ctx.identity = { subject, kind: 'user', roles: [], method: 'jwt', amr: [], authTime: undefined, mfaTime: undefined, credentialId: undefined, issuer: 'https://idp.example', attributes: {} } satisfies Identity;
  return ctx;
}

/** The error code of a refusal, or 'allowed'. */
function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'allowed';
  } catch (error) {
    assert.ok(error instanceof GatehouseError);
    return error.code;
  }
}

const config = ratelimitSchema.parse({
  edge: { rate: 1, periodMs: 60_000, burst: 1, ipv6Prefix: { factor: 10 } },
  identity: { rate: 1, periodMs: 60_000, burst: 1, ipv6Prefix: { factor: 10 } },
});

describe('IPv6 prefix rotation after the aggregate is spent', () => {
  it('a /48 rotating through 1 000 /64s on a public route cannot evict another client\'s debt: the limited identity stays refused', () => {
    const limiter = new MemoryRateLimiter({ maxKeys: 100 });
    const stage = createRateLimitStage(config, { limiter });
    assert.ok(stage);
    assert.equal(outcome(() => stage(context('198.51.100.1', 'signup', 'mallory'))), 'allowed');
    assert.equal(outcome(() => stage(context('198.51.100.1', 'signup', 'mallory'))), 'ERR_RATELIMIT_EXCEEDED', 'mallory is over her limit');
    let allowed = 0;
    for (let i = 1; i <= 1000; i++) if (outcome(() => stage(context(`2001:db8:66:${i.toString(16)}::1`, 'signup'))) === 'allowed') allowed++;
    assert.equal(allowed, 10, 'the aggregate allows factor × burst');
    assert.ok(limiter.stats().keys <= 20, `keys held: ${limiter.stats().keys}`);
    assert.equal(limiter.stats().evictions, 0, 'no key in debt evicted');
    assert.equal(outcome(() => stage(context('198.51.100.1', 'signup', 'mallory'))), 'ERR_RATELIMIT_EXCEEDED', 'mallory is still over her limit');
  });

  it('at the edge, /64s rotated after the aggregate is spent are refused without a bucket each', () => {
    const limiter = new MemoryRateLimiter({ maxKeys: 100 });
    const stage = createEdgeRateLimitStage(config, { limiter });
    assert.ok(stage);
    const outcomes = new Map<string, number>();
    for (let i = 1; i <= 1000; i++) {
      const o = outcome(() => stage(context(`2001:db8:67:${i.toString(16)}::1`, 'app')));
      outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(outcomes), { allowed: 10, ERR_RATELIMIT_EXCEEDED: 990 });
    assert.ok(limiter.stats().keys <= 20, `keys held: ${limiter.stats().keys}`);
    assert.equal(limiter.stats().evictions, 0);
  });

  it('a /64 whose aggregate is spent is still refused with the aggregate\'s headers, and its own bucket is untouched for when the aggregate refills', () => {
    let clock = 0;
    const limiter = new MemoryRateLimiter({ now: () => clock });
    const stage = createEdgeRateLimitStage(config, { limiter });
    assert.ok(stage);
    for (let i = 1; i <= 10; i++) assert.equal(outcome(() => stage(context(`2001:db8:68:${i.toString(16)}::1`, 'app'))), 'allowed');
    let error: GatehouseError | undefined;
    try { stage(context('2001:db8:68:ff::1', 'app')); } catch (e) { error = e as GatehouseError; }
    assert.equal(error?.code, 'ERR_RATELIMIT_EXCEEDED');
    assert.equal(error?.headers?.['RateLimit-Policy'], '"edge-ipv6-prefix";q=10;w=60');
    assert.equal(error?.headers?.['Retry-After'], '6');
    clock += 6_000; // one interval of the aggregate
    assert.equal(outcome(() => stage(context('2001:db8:68:ff::1', 'app'))), 'allowed', 'the refused /64 was not charged');
  });
});

describe('IPv6 prefix rotation after the aggregate is spent, with Redis', { skip: await serviceOrSkip('redis') }, () => {
  it('the rotated /64s are refused with 429 and leave no key in Redis', async () => {
    const keyPrefix = `gh-test:${randomBytes(4).toString('hex')}:`;
    const limiter = await createRedisRateLimiter(REDIS_URL, { keyPrefix });
    const redis = new Redis(REDIS_URL);
    try {
      const stage = createEdgeRateLimitStage(config, { limiter });
      assert.ok(stage);
      const outcomes = new Map<string, number>();
      for (let i = 1; i <= 100; i++) {
        let o = 'allowed';
        try { await stage(context(`2001:db8:69:${i.toString(16)}::1`, 'app')); } catch (e) { o = (e as GatehouseError).code; }
        outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
      }
      assert.deepEqual(Object.fromEntries(outcomes), { allowed: 10, ERR_RATELIMIT_EXCEEDED: 90 });
      const keys = await redis.keys(`${keyPrefix}*`);
      assert.equal(keys.length, 11, 'the ten /64s allowed and their /48');
    } finally {
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      await limiter.close();
    }
  });
});
