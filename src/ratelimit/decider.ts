/**
 * The part the two rate-limit stages share: consume, then allow (optionally with headers),
 * refuse with 429 + RateLimit headers + a `ratelimit.exceeded` event, or handle a backend
 * failure (503 ERR_RATELIMIT_UNAVAILABLE; or, when the limiter fails open, a `degraded`
 * result decided by its per-instance fallback, reported and then applied like any other).
 * Stays synchronous when the limiter is (memory), so the request path awaits nothing.
 */
import type { Logger } from 'pino';
import type { EventBus } from '../bus/types.ts';
import { GatehouseError, isGatehouseError } from '../core/errors.ts';
import type { RequestContext } from '../gateway/context.ts';
import { RateLimitHeaderFormat } from './headers.ts';
import type { RateLimit, RateLimiter, RateLimitResult } from './types.ts';
import { UnavailableReporter } from './unavailable-reporter.ts';

/**
 * Runs `next` once `first` has allowed the request (a refusal throws or rejects, so `next`
 * never runs): synchronously when `first` was.
 */
export function andThen(first: void | Promise<void>, next: () => void | Promise<void>): void | Promise<void> {
  return first instanceof Promise ? first.then(next) : next();
}

/** One bucket a request is decided against: who decides, its key and its limit. */
export interface Bucket {
  decider: RateLimitDecider;
  key: string;
  limit: RateLimit;
}

/**
 * Decides a client's own bucket, then the aggregate it shares with the other /64s of its IPv6
 * prefix (ipv6-prefix.ts) — unless the aggregate has nothing left (a look at it, cost 0): then
 * the aggregate decides first and its refusal leaves the client's own bucket untouched. Charged
 * first, every /64 a client rotated through after its /48 was spent became a key in debt
 * (65 536 per /48 and window): in memory they pushed out other clients' keys in debt,
 * forgiving their limits (the rotating client's own identity's included); in Redis each
 * stayed until it refilled.
 */
export function decideWithAggregate(ctx: RequestContext, own: Bucket, aggregate: Bucket): void | Promise<void> {
  const decide = (aggregateEmpty: boolean): void | Promise<void> => aggregateEmpty
    ? andThen(aggregate.decider.decide(ctx, aggregate.key, aggregate.limit), () => own.decider.decide(ctx, own.key, own.limit))
    : andThen(own.decider.decide(ctx, own.key, own.limit), () => aggregate.decider.decide(ctx, aggregate.key, aggregate.limit));
  const empty = aggregate.decider.isEmpty(aggregate.key, aggregate.limit);
  return empty instanceof Promise ? empty.then(decide) : decide(empty);
}

export class RateLimitDecider {
  readonly #scope: 'edge' | 'identity';
  readonly #policy: string;
  readonly #format: RateLimitHeaderFormat;
  readonly #limiter: RateLimiter;
  readonly #bus: EventBus | undefined;
  readonly #headersOnSuccess: boolean;
  readonly #unavailable: UnavailableReporter;

  constructor(scope: 'edge' | 'identity', policy: string, deps: { limiter: RateLimiter; bus?: EventBus; logger?: Logger }, headersOnSuccess: boolean) {
    this.#scope = scope;
    this.#policy = policy;
    this.#format = new RateLimitHeaderFormat(policy);
    this.#limiter = deps.limiter;
    this.#bus = deps.bus;
    this.#headersOnSuccess = headersOnSuccess;
    this.#unavailable = new UnavailableReporter(scope, deps.bus, deps.logger);
  }

  decide(ctx: RequestContext, key: string, limit: RateLimit): void | Promise<void> {
    let result: RateLimitResult | Promise<RateLimitResult>;
    try {
      result = this.#limiter.consume(key, limit);
    } catch (error) {
      this.#failed(error);
    }
    if (result instanceof Promise) {
      return result.then((r) => this.#apply(ctx, r, limit), (error: unknown) => this.#failed(error));
    }
    this.#apply(ctx, result, limit);
  }

  /**
   * Whether `key` has nothing left for one request: a look (cost 0) that charges nothing and
   * stores nothing. False when the backend cannot tell; the decision that follows reports that.
   */
  isEmpty(key: string, limit: RateLimit): boolean | Promise<boolean> {
    let result: RateLimitResult | Promise<RateLimitResult>;
    try {
      result = this.#limiter.consume(key, limit, 0);
    } catch {
      return false;
    }
    return result instanceof Promise ? result.then((r) => r.remaining < 1, () => false) : result.remaining < 1;
  }

  #apply(ctx: RequestContext, result: RateLimitResult, limit: RateLimit): void {
    if (result.degraded) {
      this.#unavailable.report(true, 'backend unreachable; decided by the per-instance in-memory limiter (failOpen)');
      // No RateLimit headers from the fallback: its figures are this instance's, not the fleet's.
      if (result.allowed) return;
    }
    if (result.allowed) {
      // Collected on the context, not set on the response: the writer of the response head
      // sends them in its one writeHead (see RequestContext.responseHeaders).
      if (this.#headersOnSuccess) {
        const policy = this.#format.policy(result);
        const allowed = this.#format.allowed(result);
        // Usually the first headers of the request: one array of the final size, not one
        // grown by a second push.
        if (ctx.responseHeaders === undefined) ctx.responseHeaders = ['RateLimit-Policy', policy, 'RateLimit', allowed];
        else ctx.responseHeaders.push('RateLimit-Policy', policy, 'RateLimit', allowed);
      }
      return;
    }
    this.#bus?.publish('ratelimit.exceeded', {
      scope: this.#scope,
      policy: this.#policy,
      requestId: ctx.requestId,
      clientAddress: ctx.clientAddress,
      subject: ctx.identity?.subject,
      routeId: ctx.route?.id,
      limit: result.limit,
      retryAfterMs: result.retryAfterMs,
    });
    throw new GatehouseError('ERR_RATELIMIT_EXCEEDED', {
      detail: `${this.#scope} limit ${limit.rate}/${limit.periodMs}ms burst ${limit.burst} exhausted; retry after ${result.retryAfterMs} ms`,
      headers: this.#format.headers(result),
      data: { scope: this.#scope, policy: this.#policy },
    });
  }

  #failed(error: unknown): never {
    if (isGatehouseError(error) && error.code === 'ERR_RATELIMIT_UNAVAILABLE') {
      this.#unavailable.report(false, error.detail ?? error.message);
      throw error;
    }
    // A bad limit (TypeError) or anything unexpected: refuse rather than skip the check.
    throw isGatehouseError(error) ? error : new GatehouseError('ERR_INTERNAL', { detail: `${this.#scope} rate limit failed`, cause: error });
  }
}
