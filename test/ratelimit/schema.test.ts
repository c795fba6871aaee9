import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ratelimitSchema } from '../../src/core/config/ratelimit-schema.ts';

describe('ratelimit config schema', () => {
  it('defaults to in-memory, fail closed, edge 100/s burst 200, identity 50/s burst 100, each /48 ten times that', () => {
    const c = ratelimitSchema.parse({});
    assert.equal(c.url, 'memory:');
    assert.equal(c.failOpen, false);
    const ipv6Prefix = { enabled: true, length: 48, factor: 10 };
    assert.deepEqual(c.edge, { enabled: true, rate: 100, periodMs: 1000, burst: 200, ipv6Prefix });
    assert.deepEqual(c.identity, { enabled: true, rate: 50, periodMs: 1000, burst: 100, routes: {}, ipv6Prefix });
    assert.deepEqual(ratelimitSchema.parse({ edge: { rate: 5 } }).edge.ipv6Prefix, ipv6Prefix);
  });

  it('refuses an IPv6 aggregate prefix that is not shorter than a /64 or would span whole ISPs, and a factor below 1', () => {
    for (const ipv6Prefix of [{ length: 64 }, { length: 31 }, { length: 48.5 }, { factor: 0 }, { factor: 1.5 }, { lenght: 48 }]) {
      assert.equal(ratelimitSchema.safeParse({ edge: { ipv6Prefix } }).success, false, JSON.stringify(ipv6Prefix));
    }
  });

  it('rejects an unknown key with its path', () => {
    const r = ratelimitSchema.safeParse({ edge: { rate: 5, brust: 10 } });
    assert.equal(r.success, false);
    assert.deepEqual(r.error?.issues[0]?.path, ['edge']);
    assert.match(r.error?.issues[0]?.message ?? '', /brust/);
  });

  it('rejects a non-Redis URL, a zero burst, a fractional burst and 1e400', () => {
    assert.equal(ratelimitSchema.safeParse({ url: 'http://redis:6379' }).success, false);
    assert.equal(ratelimitSchema.safeParse({ edge: { burst: 0 } }).success, false);
    assert.equal(ratelimitSchema.safeParse({ edge: { burst: 1.5 } }).success, false);
    assert.equal(ratelimitSchema.safeParse({ edge: { rate: JSON.parse('1e400') } }).success, false);
  });

  it('refuses a limit whose empty bucket would take more than ten years to refill (tiny rates overflow the arithmetic, the headers and Redis expiries)', () => {
    const tiny = ratelimitSchema.safeParse({ edge: { rate: 1e-300, periodMs: 86_400_000, burst: 1_000_000 } });
    assert.equal(tiny.success, false);
    assert.deepEqual(tiny.error?.issues[0]?.path, ['edge']);
    assert.match(tiny.error?.issues[0]?.message ?? '', /ten years/);
    assert.equal(ratelimitSchema.safeParse({ identity: { routes: { slow: { rate: 0.1, periodMs: 86_400_000, burst: 1_000_000 } } } }).success, false);
    // One a day, up to 3 650 saved up: exactly ten years, still a limit someone may mean.
    assert.equal(ratelimitSchema.safeParse({ identity: { rate: 1, periodMs: 86_400_000, burst: 3_650 } }).success, true);
  });

  it('accepts per-route identity overrides', () => {
    const c = ratelimitSchema.parse({ url: 'redis://127.0.0.1:6379/2', identity: { routes: { login: { rate: 5, periodMs: 60_000, burst: 5 } } } });
    assert.deepEqual(c.identity.routes.login, { rate: 5, periodMs: 60_000, burst: 5 });
  });
});
