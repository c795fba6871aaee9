/**
 * Turns rate-limit backend failures into at most one `ratelimit.unavailable` event (and log
 * line) per interval, so that an outage at 10 000 requests/s does not become 10 000 events/s.
 */
import type { Logger } from 'pino';
import type { EventBus } from '../bus/types.ts';

export class UnavailableReporter {
  readonly #scope: 'edge' | 'identity';
  readonly #bus: EventBus | undefined;
  readonly #logger: Logger | undefined;
  readonly #intervalMs: number;
  #last = Number.NEGATIVE_INFINITY;
  #suppressed = 0;

  constructor(scope: 'edge' | 'identity', bus: EventBus | undefined, logger: Logger | undefined, intervalMs = 10_000) {
    this.#scope = scope;
    this.#bus = bus;
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  report(failOpen: boolean, detail: string): void {
    const now = performance.now();
    if (now - this.#last < this.#intervalMs) {
      this.#suppressed += 1;
      return;
    }
    const suppressed = this.#suppressed;
    this.#last = now;
    this.#suppressed = 0;
    this.#logger?.error({ scope: this.#scope, failOpen, detail, suppressed }, 'rate limit backend unavailable');
    this.#bus?.publish('ratelimit.unavailable', { scope: this.#scope, failOpen, detail, suppressed });
  }
}
