/**
 * The limiter contract against a real Redis, plus what only Redis can get wrong: losing the
 * connection (fail closed by default, fail open when configured), a flushed script cache,
 * and the keys it leaves behind. Keys use a per-run prefix and are removed afterwards.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { limiterContract } from './contract.ts';
import { createRedisRateLimiter, RedisRateLimiter } from '../../src/ratelimit/redis-limiter.ts';
import { createRateLimiter } from '../../src/ratelimit/create-rate-limiter.ts';
import { GatehouseError } from '../../src/core/errors.ts';
import { REDIS_URL, serviceOrSkip } from '../support/services.ts';
import { TcpRelay } from '../bus/tcp-relay.ts';
import { StallRelay } from './stall-relay.ts';
import { spareRedisOrSkip, startSpareRedis } from './spare-redis.ts';

const skip = await serviceOrSkip('redis');
const keyPrefix = `gh-test:${randomBytes(4).toString('hex')}:`;

async function deleteTestKeys(): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

limiterContract('redis', {
  create: () => createRedisRateLimiter(REDIS_URL, { keyPrefix }),
  peer: () => createRedisRateLimiter(REDIS_URL, { keyPrefix }),
  teardown: deleteTestKeys,
}, skip);

describe('redis rate limiter: failures', { skip }, () => {
  const target = new URL(REDIS_URL);
  // Slow enough that nothing refills during a test.
  const limit = { rate: 1, periodMs: 60_000, burst: 10 };
  after(deleteTestKeys);

  it('refuses to start when Redis is unreachable and failOpen is false (ERR_RATELIMIT_UNAVAILABLE)', async () => {
    const relay = new TcpRelay(target.hostname, Number(target.port || 6379));
    await relay.start();
    const port = relay.port;
    await relay.cut(); // nothing listens on that port now
    await assert.rejects(createRateLimiter(`redis://127.0.0.1:${port}`, { keyPrefix, timeoutMs: 300 }), (e: unknown) => e instanceof GatehouseError && e.code === 'ERR_RATELIMIT_UNAVAILABLE' && e.status === 503);
  });

  it('fails closed when Redis goes away mid-flight: ERR_RATELIMIT_UNAVAILABLE, then recovers after reconnect', async () => {
    const relay = new TcpRelay(target.hostname, Number(target.port || 6379));
    await relay.start();
    const limiter = await createRedisRateLimiter(`redis://127.0.0.1:${relay.port}`, { keyPrefix, timeoutMs: 300 });
    try {
      assert.equal((await limiter.consume('closed', limit)).allowed, true);
      await relay.cut();
      await assert.rejects(Promise.resolve(limiter.consume('closed', limit)), (e: unknown) => e instanceof GatehouseError && e.code === 'ERR_RATELIMIT_UNAVAILABLE');
      assert.equal((await limiter.health()).ok, false);
      await relay.restore();
      const deadline = Date.now() + 10_000;
      let result;
      while (!result && Date.now() < deadline) {
        result = await Promise.resolve(limiter.consume('closed', limit)).catch(() => undefined);
        if (!result) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(result?.allowed, true, 'decides again after reconnecting');
      assert.equal(result?.remaining, 8, 'and the state kept in Redis survived');
    } finally {
      await limiter.close();
      await relay.cut();
    }
  });

  it('with failOpen, a client flooding while Redis is away is refused after its burst by the instance\'s in-memory limits (not let through unchecked), and Redis decides again once it is back', async () => {
    const relay = new TcpRelay(target.hostname, Number(target.port || 6379));
    await relay.start();
    const limiter = await createRedisRateLimiter(`redis://127.0.0.1:${relay.port}`, { keyPrefix, timeoutMs: 300, failOpen: true });
    try {
      assert.equal((await limiter.consume('open', limit)).remaining, 9, 'Redis decides');
      await relay.cut();
      const during = [];
      for (let i = 0; i < 15; i++) during.push(await limiter.consume('open', limit));
      assert.ok(during.every((r) => r.degraded === true));
      assert.deepEqual(during.map((r) => r.allowed), [...Array(10).fill(true), ...Array(5).fill(false)], 'the full burst per instance, then refused');
      assert.ok(during[10]!.retryAfterMs > 5_000, 'with a Retry-After of the limit\'s interval');
      assert.match((await limiter.health()).detail ?? '', /per-instance in-memory limits/);
      await relay.restore();
      const deadline = Date.now() + 10_000;
      let back;
      while (Date.now() < deadline) {
        back = await limiter.consume('open', limit);
        if (!back.degraded) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(back?.degraded, undefined, 'Redis decides again');
      assert.equal(back?.remaining, 8, 'from the state it kept (one spent before the outage), not the exhausted local bucket');
    } finally {
      await limiter.close();
      await relay.cut();
    }
  });

  it('with failOpen and fallbackInstances 4, each instance holds a quarter of the limit while Redis is away', async () => {
    const relay = new TcpRelay(target.hostname, Number(target.port || 6379));
    await relay.start();
    const port = relay.port;
    await relay.cut();
    const limiter = await createRedisRateLimiter(`redis://127.0.0.1:${port}`, { keyPrefix, timeoutMs: 300, failOpen: true, fallbackInstances: 4 });
    try {
      const allowed = [];
      for (let i = 0; i < 5; i++) allowed.push((await limiter.consume('quarter', limit)).allowed);
      assert.deepEqual(allowed, [true, true, false, false, false], 'burst 10 / 4 → 2');
      // A burst smaller than the instance count still allows one request, and a cost above the share is capped to it.
      assert.equal((await limiter.consume('tiny', { rate: 1, periodMs: 60_000, burst: 2 }, 2)).allowed, true);
      // One a decade (burst 1): a quarter would refill in forty years, beyond what GCRA accepts; the whole limit applies, not a 500.
      const decade = { rate: 1 / 3650, periodMs: 86_400_000, burst: 1 };
      assert.deepEqual([(await limiter.consume('decade', decade)).allowed, (await limiter.consume('decade', decade)).allowed], [true, false]);
    } finally {
      await limiter.close();
    }
  });

  it('without failOpen, Redis away still fails closed: no in-memory fallback decides', async () => {
    const relay = new TcpRelay(target.hostname, Number(target.port || 6379));
    await relay.start();
    const limiter = await createRedisRateLimiter(`redis://127.0.0.1:${relay.port}`, { keyPrefix, timeoutMs: 300, fallbackInstances: 4 });
    try {
      await relay.cut();
      for (let i = 0; i < 3; i++) {
        await assert.rejects(Promise.resolve(limiter.consume('closed-no-fallback', limit)), (e: unknown) => e instanceof GatehouseError && e.code === 'ERR_RATELIMIT_UNAVAILABLE');
      }
    } finally {
      await limiter.close();
    }
  });

  it('a Redis connection that stops answering without being closed (host gone, no reset) is replaced: decisions resume within seconds, not after the kernel gives up on TCP', async () => {
    const relay = new StallRelay(target.hostname, Number(target.port || 6379));
    await relay.start();
    const limiter = await createRedisRateLimiter(`redis://127.0.0.1:${relay.port}`, { keyPrefix, timeoutMs: 200 });
    try {
      assert.equal((await limiter.consume('stalled', limit)).remaining, 9);
      relay.stall();
      await assert.rejects(Promise.resolve(limiter.consume('stalled', limit)), (e: unknown) => e instanceof GatehouseError && e.code === 'ERR_RATELIMIT_UNAVAILABLE');
      // Redis answers again on a new connection; the old one would stay silent for the ~15 min
      // of TCP retransmissions, and every decision on it would fail after timeoutMs.
      const deadline = performance.now() + 8_000;
      let result;
      while (!result && performance.now() < deadline) {
        result = await Promise.resolve(limiter.consume('stalled', limit)).catch(() => undefined);
        if (!result) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(result?.allowed, true, 'decides again on a new connection');
    } finally {
      await limiter.close();
      await relay.close();
    }
  });

  it('recovers from a flushed script cache (NOSCRIPT) without failing a request', async () => {
    const limiter = new RedisRateLimiter(REDIS_URL, { keyPrefix });
    await limiter.connect();
    const admin = new Redis(REDIS_URL);
    try {
      assert.equal((await limiter.consume('noscript', limit)).remaining, 9);
      await admin.script('FLUSH');
      assert.equal((await limiter.consume('noscript', limit)).remaining, 8);
    } finally {
      admin.disconnect();
      await limiter.close();
    }
  });

  it('stores one key per bucket that expires once the bucket is full again', async () => {
    const limiter = new RedisRateLimiter(REDIS_URL, { keyPrefix });
    await limiter.connect();
    const admin = new Redis(REDIS_URL);
    try {
      await limiter.consume('ttl', { rate: 1, periodMs: 1000, burst: 5 }, 3);
      const ttl = await admin.pttl(`${keyPrefix}ttl`);
      assert.ok(ttl > 2_500 && ttl <= 3_000, `pttl ${ttl}`);
    } finally {
      admin.disconnect();
      await limiter.close();
    }
  });
});

describe('redis rate limiter: a Redis that answers PING but cannot decide', { skip: skip || await spareRedisOrSkip() }, () => {
  // A replica of a primary that is gone: what the primary's address serves after a failover
  // demoted it. It answers PING and reads; every decision (a write) is refused with READONLY.
  const replicaArgs = ['--replicaof', '127.0.0.1', '1'];
  const limit = { rate: 1, periodMs: 1000, burst: 1 };
  /** The error createRedisRateLimiter rejects with; a limiter it returns instead is closed. */
  const startError = (url: string, failOpen: boolean): Promise<unknown> =>
    createRedisRateLimiter(url, { keyPrefix, failOpen }).then(async (limiter) => { await limiter.close(); return undefined; }, (error: unknown) => error);
  const isError = (e: unknown, code: string, detail: RegExp): boolean => e instanceof GatehouseError && e.code === code && detail.test(e.detail ?? '');

  it('a read-only replica is refused at start when failOpen is false (ERR_RATELIMIT_UNAVAILABLE naming READONLY), not accepted to refuse every request later', async () => {
    const replica = await startSpareRedis(replicaArgs);
    try {
      const error = await startError(replica.url, false);
      assert.ok(isError(error, 'ERR_RATELIMIT_UNAVAILABLE', /READONLY/), `start: ${String(error)}`);
    } finally {
      await replica.stop();
    }
  });

  it('with failOpen, health reports the replica not ok (READONLY) instead of ok from a PING while the in-memory fallback decides', async () => {
    const replica = await startSpareRedis(replicaArgs);
    const limiter = await createRedisRateLimiter(replica.url, { keyPrefix, failOpen: true });
    try {
      assert.equal((await limiter.consume('replica', limit)).degraded, true);
      const health = await limiter.health();
      assert.equal(health.ok, false);
      assert.match(health.detail ?? '', /READONLY/);
    } finally {
      await limiter.close();
      await replica.stop();
    }
  });

  it('a Redis Cluster node is refused at start whatever failOpen says (ERR_CONFIG_INVALID): keys on other shards would answer MOVED', async () => {
    const node = await startSpareRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']);
    try {
      for (const failOpen of [false, true]) {
        const error = await startError(node.url, failOpen);
        assert.ok(isError(error, 'ERR_CONFIG_INVALID', /Cluster/), `failOpen ${failOpen}: ${String(error)}`);
      }
    } finally {
      await node.stop();
    }
  });

  it('the health probe of a working Redis decides without touching any bucket and leaves no key behind for long', async () => {
    const limiter = await createRedisRateLimiter(REDIS_URL, { keyPrefix });
    const admin = new Redis(REDIS_URL);
    try {
      assert.equal((await limiter.health()).ok, true);
      const keys = await admin.keys(`${keyPrefix}*`);
      for (const key of keys) assert.ok(await admin.pttl(key) <= 1_000, `${key} outlives the probe`);
    } finally {
      admin.disconnect();
      await limiter.close();
    }
  });
});
