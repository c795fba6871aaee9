/**
 * RateLimit headers, checked with an independent RFC 9651 parser (structured-headers)
 * rather than by comparing against strings this code base made up.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseList } from 'structured-headers';
import { formatRateLimitHeaders } from '../../src/ratelimit/headers.ts';
import type { RateLimitResult } from '../../src/ratelimit/types.ts';

const allowed: RateLimitResult = { allowed: true, limit: 200, remaining: 150, resetAfterMs: 500, retryAfterMs: 0, windowMs: 2000 };
const refused: RateLimitResult = { allowed: false, limit: 200, remaining: 0, resetAfterMs: 2000, retryAfterMs: 1200, windowMs: 2000 };

function only(field: string) {
  const list = parseList(field);
  assert.equal(list.length, 1);
  const [value, params] = list[0] as [unknown, Map<string, unknown>];
  return { value, params: Object.fromEntries(params) };
}

describe('formatRateLimitHeaders', () => {
  it('describes the policy as quota q (the burst) per window w seconds, with a quoted name', () => {
    const h = formatRateLimitHeaders(allowed, 'edge');
    assert.equal(h['RateLimit-Policy'], '"edge";q=200;w=2');
    assert.deepEqual(only(h['RateLimit-Policy'] as string), { value: 'edge', params: { q: 200, w: 2 } });
  });

  it('reports remaining and seconds to reset on an allowed request, without Retry-After', () => {
    const h = formatRateLimitHeaders(allowed, 'edge');
    assert.deepEqual(only(h.RateLimit as string), { value: 'edge', params: { r: 150, t: 1 } });
    assert.equal(h['Retry-After'], undefined);
  });

  it('on a refusal, Retry-After and the reset parameter name the same moment (rounded up)', () => {
    const h = formatRateLimitHeaders(refused, 'identity');
    assert.equal(h['Retry-After'], '2');
    assert.deepEqual(only(h.RateLimit as string), { value: 'identity', params: { r: 0, t: 2 } });
  });

  it('never sends Retry-After: 0 for a refusal that is due in under a second', () => {
    const h = formatRateLimitHeaders({ ...refused, retryAfterMs: 1 }, 'edge');
    assert.equal(h['Retry-After'], '1');
  });

  it('escapes quotes and backslashes in the policy name', () => {
    const h = formatRateLimitHeaders(allowed, 'a"b\\c');
    assert.equal(only(h['RateLimit-Policy'] as string).value, 'a"b\\c');
  });

  it('refuses a policy name with CR/LF instead of emitting a split header (header injection)', () => {
    assert.throws(() => formatRateLimitHeaders(allowed, 'edge\r\nSet-Cookie: x=1'), TypeError);
    assert.throws(() => formatRateLimitHeaders(allowed, 'édge'), TypeError);
  });
});
