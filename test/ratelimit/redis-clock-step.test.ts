/**
 * The Redis limiter logs an outage at most once per 10 s. That interval must be measured on a
 * monotonic clock: measured on the wall clock, an NTP step back (a clock that ran an hour
 * ahead, corrected) silenced every "Redis unavailable" error for the length of the step.
 * The wall clock is mocked (Date only); the 10 s between the two failures really pass.
 */
import { after, before, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { RedisRateLimiter } from '../../src/ratelimit/redis-limiter.ts';
import { captureLogger } from '../support/gateway.ts';

/** A loopback port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

describe('redis rate limiter: failure log under a wall-clock step', () => {
  let limiter: RedisRateLimiter;
  const { logger, capture } = captureLogger();
  const failures = () => capture.lines.filter((l) => l.msg === 'rate limiter: Redis unavailable').length;
  const limit = { rate: 1, periodMs: 60_000, burst: 1 };

  before(async () => {
    limiter = new RedisRateLimiter(`redis://127.0.0.1:${await deadPort()}`, { logger, timeoutMs: 100 });
  });
  after(async () => {
    mock.timers.reset();
    await limiter.close();
  });

  it('a wall clock stepped back an hour does not silence the Redis-unavailable log: the next failure 10 s later is logged', async () => {
    const realNow = Date.now();
    mock.timers.enable({ apis: ['Date'], now: realNow + 3_600_000 });
    await assert.rejects(async () => limiter.consume('k', limit), { code: 'ERR_RATELIMIT_UNAVAILABLE' });
    assert.equal(failures(), 1, 'the first failure is logged');
    mock.timers.setTime(realNow); // NTP steps the clock back an hour
    await new Promise((resolve) => setTimeout(resolve, 10_500));
    await assert.rejects(async () => limiter.consume('k', limit), { code: 'ERR_RATELIMIT_UNAVAILABLE' });
    assert.ok(failures() >= 2, `failures logged: ${failures()} (the step back silenced the log)`);
  });
});
