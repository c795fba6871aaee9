/**
 * GCRA (Generic Cell Rate Algorithm), the pure decision shared by the memory backend and
 * mirrored line by line in the Redis script (redis-script.ts).
 *
 * State per key is one number, the theoretical arrival time (TAT): when the bucket would be
 * full again if nothing more arrived. With emission interval T = periodMs / rate and
 * tolerance τ = burst × T, a request of cost c at time `now` is allowed when
 *     max(TAT, now) + c·T − τ ≤ now
 * and then TAT becomes max(TAT, now) + c·T. A key whose TAT is in the past is a full bucket,
 * so state can be forgotten once TAT ≤ now.
 *
 * Under one limit TAT never runs more than τ ahead of now. A stored TAT further ahead was
 * written under another limit (a reload, or instances on old and new configuration sharing
 * Redis) or before the clock stepped back (a Redis failover to a host whose clock is behind);
 * it is read as now + τ, an empty bucket under the limit in force, and stored so (also when
 * the request is refused, or time would never catch up with it). Otherwise a loosened limit
 * would refuse a client for the rest of the debt it ran up under the old one (a day, for a
 * daily limit), with a Retry-After to match.
 */
import type { RateLimit, RateLimitResult } from './types.ts';

/** Absorbs floating-point error so that e.g. 2.9999999997 slots count as 3. */
const EPSILON = 1e-9;
/**
 * Whole milliseconds until a moment, rounded up — less 1 µs of floating-point noise: `now` has
 * a fraction (performance.now(); Redis keeps µs), so `now + 60000 − now` came out 60000.0000001
 * about once in a hundred and a reset 60 s away was reported as 60.001 s, `t=61`.
 */
const ceilMs = (ms: number): number => Math.ceil(ms - 1e-3);

/**
 * How early (ms) a request may be and still count as on time: what rounding can add to a
 * TAT over a burst. TAT + c·T − τ is computed at the magnitude of τ and of the clock (a
 * double's step is 15 ns at τ = one day, 0.24 µs at Redis's epoch ms), and Redis stores a
 * TAT to 1 µs; with a fixed 1e-9 the last request of a fresh client's burst was refused
 * whenever rounding went up (memory backend: a 10-a-day limit refused 3 fresh clients in 8
 * their tenth request, Retry-After 1 s; a burst-1 limit near the ten-year maximum every
 * other first request). 1 µs per request of the burst, at most half an interval: never a
 * whole request more than the limit.
 */
export function slackOf(limit: RateLimit, interval: number): number {
  return Math.min(limit.burst * 0.001, interval / 2);
}

export interface GcraDecision {
  result: RateLimitResult;
  /** The key's new TAT, or undefined when it does not change (denied or cost 0, unless the stored TAT was capped). */
  tat: number | undefined;
}

/**
 * The longest time an empty bucket may take to refill (τ = burst × periodMs / rate): ten
 * years of 365 days. Far beyond any limit meant as one, and far below what breaks: τ
 * overflowing to Infinity (every comparison with NaN allowed), a Retry-After or `w` beyond
 * a Structured Field Integer (15 digits), a Redis expiry of 1e14 ms or more (Lua writes it
 * as 1e+14, which PX refuses).
 */
export const MAX_WINDOW_MS = 3650 * 86_400_000;

/** τ of a limit, computed as gcra() computes it. */
export function windowOf(limit: RateLimit): number {
  return limit.burst * (limit.periodMs / limit.rate);
}

/** Throws TypeError on a limit or cost no configuration should produce. */
export function checkLimit(limit: RateLimit, cost: number): void {
  if (!(limit.rate > 0 && Number.isFinite(limit.rate))) throw new TypeError('rate limit: rate must be a positive number');
  if (!(limit.periodMs > 0 && Number.isFinite(limit.periodMs))) throw new TypeError('rate limit: periodMs must be a positive number');
  if (!(Number.isInteger(limit.burst) && limit.burst >= 1)) throw new TypeError('rate limit: burst must be an integer ≥ 1');
  if (!(windowOf(limit) <= MAX_WINDOW_MS)) throw new TypeError('rate limit: an empty bucket must refill within ten years (burst × periodMs / rate)');
  if (!(Number.isInteger(cost) && cost >= 0 && cost <= limit.burst)) throw new TypeError('rate limit: cost must be an integer between 0 and burst');
}

/** Decides one request. `tat` is the stored TAT (undefined: unknown key); times in ms. */
export function gcra(tat: number | undefined, now: number, limit: RateLimit, cost: number): GcraDecision {
  const interval = limit.periodMs / limit.rate;
  const tolerance = windowOf(limit);
  const windowMs = Math.ceil(tolerance);
  const slack = slackOf(limit, interval);
  const capped = tat !== undefined && tat > now + tolerance;
  const base = tat === undefined || tat < now ? now : capped ? now + tolerance : tat;
  const newTat = base + cost * interval;
  const allowAt = newTat - tolerance;
  if (allowAt > now + slack) {
    return {
      tat: capped ? base : undefined,
      result: {
        allowed: false,
        limit: limit.burst,
        remaining: Math.max(0, Math.floor((now + tolerance - base) / interval + EPSILON)),
        resetAfterMs: ceilMs(base - now),
        retryAfterMs: Math.max(1, ceilMs(allowAt - now)),
        windowMs,
      },
    };
  }
  return {
    tat: cost === 0 && !capped ? undefined : newTat,
    result: {
      allowed: true,
      limit: limit.burst,
      remaining: Math.max(0, Math.floor((now + tolerance - newTat) / interval + EPSILON)),
      resetAfterMs: ceilMs(newTat - now),
      retryAfterMs: 0,
      windowMs,
    },
  };
}
