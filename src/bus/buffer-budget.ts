/**
 * The bounds of a queue of events: a count and a byte budget. The count alone let one
 * publish buffer or one slow live subscriber's inbox hold maxBuffer events of up to
 * maxEventBytes each (10 000 × 1 MB by default: 10 GB) before dropping anything. Past either
 * bound new events are dropped, counted by the caller and logged here (at most every 10 s,
 * with how many went unlogged), never with their content.
 */
import type { Logger } from 'pino';

export const DEFAULT_MAX_BUFFER_BYTES = 64 * 1024 * 1024;
export const MIN_MAX_BUFFER_BYTES = 1024 * 1024;
export const MAX_MAX_BUFFER_BYTES = 64 * 1024 * 1024 * 1024;
const LOG_INTERVAL_MS = 10_000;

/** Validates `EventBusOptions.maxBufferBytes` (a programming or wiring error, so it throws). */
export function maxBufferBytes(bytes: number | undefined): number {
  if (bytes === undefined) return DEFAULT_MAX_BUFFER_BYTES;
  if (!Number.isInteger(bytes) || bytes < MIN_MAX_BUFFER_BYTES || bytes > MAX_MAX_BUFFER_BYTES) {
    throw new TypeError(`maxBufferBytes must be an integer from ${MIN_MAX_BUFFER_BYTES} to ${MAX_MAX_BUFFER_BYTES} (got ${bytes})`);
  }
  return bytes;
}

/**
 * Whether a queue holding `count` events of `bytes` may take one more of `size` bytes. An
 * empty queue takes any event (maxEventBytes may exceed a small budget): the budget bounds
 * what piles up, not what may pass.
 */
export function fits(count: number, bytes: number, size: number, maxCount: number, maxBytes: number): boolean {
  return count === 0 || (count < maxCount && bytes + size <= maxBytes);
}

/** Logs drops for a full queue, rate-limited. */
export class OverflowLog {
  readonly #logger: Logger | undefined;
  readonly #queue: 'publish' | 'subscriber' | 'backlog';
  #last = -Infinity;
  #unlogged = 0;

  /** `backlog`: an in-process durable group's events waiting for a member. */
  constructor(logger: Logger | undefined, queue: 'publish' | 'subscriber' | 'backlog') {
    this.#logger = logger;
    this.#queue = queue;
  }

  /** The in-process bus has no byte budget: it leaves the byte fields out. */
  dropped(state: { buffered: number; bufferedBytes?: number; maxBuffer: number; maxBufferBytes?: number }): void {
    const now = Date.now();
    if (now - this.#last < LOG_INTERVAL_MS) {
      this.#unlogged += 1;
      return;
    }
    this.#logger?.error({ queue: this.#queue, ...state, suppressed: this.#unlogged }, 'event bus: buffer full; events dropped');
    this.#last = now;
    this.#unlogged = 0;
  }
}
