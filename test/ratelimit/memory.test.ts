import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { limiterContract } from './contract.ts';
import { MemoryRateLimiter } from '../../src/ratelimit/memory-limiter.ts';
import { gcra } from '../../src/ratelimit/gcra.ts';

limiterContract('memory', {
  create: async () => new MemoryRateLimiter(),
  peer: async (of) => of,
}, false);

describe('memory rate limiter', () => {
  it('answers synchronously (no promise on the request path)', () => {
    const limiter = new MemoryRateLimiter();
    const result = limiter.consume('k', { rate: 1, periodMs: 1000, burst: 1 });
    assert.equal(result instanceof Promise, false);
    assert.equal(result.allowed, true);
    void limiter.close();
  });

  it('a fresh client of a daily or decade limit gets its whole burst at once, whatever the clock reads (rounding of a long refill time refused its last request with Retry-After 1 s)', () => {
    for (const limit of [{ rate: 10, periodMs: 86_400_000, burst: 10 }, { rate: 3, periodMs: 3_600_000, burst: 24 }, { rate: 1 / 3650, periodMs: 86_400_000, burst: 1 }]) {
      for (let i = 0; i < 200; i++) {
        const now = 1_000 + i * 12_345.678_9;
        const limiter = new MemoryRateLimiter({ now: () => now });
        const allowed = Array.from({ length: limit.burst + 1 }, () => limiter.consume('k', limit).allowed);
        assert.deepEqual(allowed, [...Array(limit.burst).fill(true), false], `${JSON.stringify(limit)} at ${now}`);
        void limiter.close();
      }
    }
  });

  it('counts a request as early only beyond rounding: 2 µs early is still refused for a burst of 1', () => {
    let now = 5_000;
    const limiter = new MemoryRateLimiter({ now: () => now });
    const limit = { rate: 10, periodMs: 1000, burst: 1 };
    assert.equal(limiter.consume('k', limit).allowed, true);
    now += 99.998;
    assert.equal(limiter.consume('k', limit).allowed, false);
    now += 0.002;
    assert.equal(limiter.consume('k', limit).allowed, true);
    void limiter.close();
  });

  it('follows GCRA exactly on a controlled clock', () => {
    let now = 1_000;
    const limiter = new MemoryRateLimiter({ now: () => now });
    const limit = { rate: 10, periodMs: 1000, burst: 3 }; // one every 100 ms
    const r = () => limiter.consume('k', limit);
    assert.deepEqual([r().remaining, r().remaining, r().remaining], [2, 1, 0]);
    const refused = r();
    assert.deepEqual(refused, { allowed: false, limit: 3, remaining: 0, resetAfterMs: 300, retryAfterMs: 100, windowMs: 300 });
    now += 99;
    assert.equal(r().allowed, false);
    now += 1;
    assert.deepEqual(r(), { allowed: true, limit: 3, remaining: 0, resetAfterMs: 300, retryAfterMs: 0, windowMs: 300 });
    now += 1_000;
    assert.equal(r().remaining, 2, 'a long pause refills to the burst, never beyond');
    void limiter.close();
  });

  it('a flood of distinct keys (spoofed client addresses) cannot grow memory beyond maxKeys', () => {
    const now = 0;
    const limiter = new MemoryRateLimiter({ maxKeys: 1_000, now: () => now });
    const limit = { rate: 1, periodMs: 60_000, burst: 5 };
    for (let i = 0; i < 50_000; i++) limiter.consume(`198.51.100.${i}`, limit);
    const { keys, evictions } = limiter.stats();
    assert.ok(keys <= 1_000, `${keys} keys kept`);
    assert.equal(evictions, 49_000);
    void limiter.close();
  });

  it('a flood of fresh client networks beyond maxKeys cannot evict a key still in debt while the flood\'s own buckets have refilled (per-identity limit kept)', () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ maxKeys: 1_000, now: () => now, sweepIntervalMs: 3_600_000 });
    const strict = { rate: 1, periodMs: 60_000, burst: 1 };
    const victim = 'id:8:transfer user 0: alice';
    assert.equal(limiter.consume(victim, strict).allowed, true);
    assert.equal(limiter.consume(victim, strict).allowed, false);
    // One request each from 5 000 /64s (a tunnel broker's /48 has 65 536), 1 ms apart: each
    // edge bucket has refilled 10 ms later and holds nothing worth keeping.
    const edge = { rate: 100, periodMs: 1000, burst: 200 };
    for (let i = 0; i < 5_000; i++) {
      now += 1;
      assert.equal(limiter.consume(`edge:2001:db8:${i.toString(16)}::/64`, edge).allowed, true);
    }
    assert.ok(limiter.stats().keys <= 1_000, `${limiter.stats().keys} keys kept`);
    assert.equal(limiter.consume(victim, strict).allowed, false, 'the debt of the strict limit survives the flood');
    assert.equal(limiter.stats().evictions, 0, 'no key in debt was forgotten');
    void limiter.close();
  });

  it('forgets keys whose bucket has refilled', () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ now: () => now });
    const limit = { rate: 10, periodMs: 1000, burst: 2 };
    for (let i = 0; i < 100; i++) limiter.consume(`k${i}`, limit);
    assert.equal(limiter.stats().keys, 100);
    now += 200; // every bucket is full again
    limiter.sweep();
    assert.equal(limiter.stats().keys, 0);
    void limiter.close();
  });

  it('the least recently used key is evicted first, so an active abuser keeps its debt', () => {
    const now = 0;
    const limiter = new MemoryRateLimiter({ maxKeys: 10, now: () => now });
    const limit = { rate: 1, periodMs: 60_000, burst: 1 };
    limiter.consume('abuser', limit);
    for (let i = 0; i < 100; i++) {
      limiter.consume(`other${i}`, limit);
      assert.equal(limiter.consume('abuser', limit).allowed, false, `abuser still limited after ${i} other keys`);
    }
    void limiter.close();
  });
});

it('a reset 60 s away is reported as 60 000 ms whatever the fraction of the clock (floating-point noise rounded 60000.0000001 up to 60 001: RateLimit t=61)', async () => {
  const limit = { rate: 1, periodMs: 60_000, burst: 1 };
  let off = 0;
  for (let i = 0; i < 20_000; i++) {
    // performance.now()-sized and epoch-sized clocks, with fractions, as the two backends see them.
    const now = (i % 2 === 0 ? 0 : 1_763_900_000_000) + ((i * 7919.123456789) % 1e7);
    const first = gcra(undefined, now, limit, 1);
    const second = gcra(first.tat, now, limit, 1);
    if (first.result.resetAfterMs !== 60_000 || second.result.retryAfterMs !== 60_000) off++;
  }
  assert.equal(off, 0);
});
