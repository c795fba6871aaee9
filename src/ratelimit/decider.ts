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
