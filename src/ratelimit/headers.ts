/**
 * Response headers for a rate-limit decision, per the IETF httpapi draft
 * "RateLimit header fields for HTTP" (draft-ietf-httpapi-ratelimit-headers-09/-10), which
 * uses Structured Field lists whose items are the quoted policy name:
 *
 *   RateLimit-Policy: "edge";q=200;w=2     quota q per window w seconds
 *   RateLimit: "edge";r=150;t=1            r remaining, t seconds until the quota resets
 *   Retry-After: 1                          (RFC 9110; only on a refused request)
 *
 * For GCRA, q is the burst and w the time an empty bucket takes to refill: the most a
 * client can send at once, and how long until it may do so again. On a refusal `t` is the
 * Retry-After time, as the draft asks that both name the same moment.
 */
import type { RateLimitResult } from './types.ts';

/** Printable ASCII only; `"` and `\` are escaped (RFC 9651 §4.1.6). */
function sfString(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) throw new TypeError('rate limit policy name must be printable ASCII');
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

const seconds = (ms: number): number => Math.max(0, Math.ceil(ms / 1000));

/** The header values of one policy; its name is quoted once, not per request. */
export class RateLimitHeaderFormat {
  readonly #name: string;
  // The policy value depends on the limit only, so the last one is kept: a stage formats
  // the same value on every allowed request.
  #policyLimit = -1;
  #policyWindowMs = -1;
  #policy = '';

  constructor(policyName: string) {
    this.#name = sfString(policyName);
  }

  /** `RateLimit-Policy`: quota and window. */
  policy(result: RateLimitResult): string {
    if (result.limit !== this.#policyLimit || result.windowMs !== this.#policyWindowMs) {
      this.#policy = `${this.#name};q=${result.limit};w=${Math.max(1, seconds(result.windowMs))}`;
      this.#policyLimit = result.limit;
      this.#policyWindowMs = result.windowMs;
    }
    return this.#policy;
  }

  /** `RateLimit` of an allowed request: what remains and when the quota resets. */
  allowed(result: RateLimitResult): string {
    return `${this.#name};r=${result.remaining};t=${seconds(result.resetAfterMs)}`;
  }

  /** All headers of a decision, Retry-After included when it was refused. */
  headers(result: RateLimitResult): Record<string, string> {
    const headers: Record<string, string> = { 'RateLimit-Policy': this.policy(result) };
    if (result.allowed) {
      headers.RateLimit = this.allowed(result);
    } else {
      const retryAfter = Math.max(1, seconds(result.retryAfterMs));
      headers.RateLimit = `${this.#name};r=0;t=${retryAfter}`;
      headers['Retry-After'] = String(retryAfter);
    }
    return headers;
  }
}

export function formatRateLimitHeaders(result: RateLimitResult, policyName: string): Record<string, string> {
  return new RateLimitHeaderFormat(policyName).headers(result);
}
