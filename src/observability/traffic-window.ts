/**
 * The last minute of traffic, for /readyz: requests, server and client errors, and latency
 * percentiles. Prometheus has all of it, but an operator (or a load balancer's health page,
 * or `curl` during an incident) asking one instance "how are you doing" should not need a
 * query language: /readyz answers with dependency status, latency and the error rate.
 *
 * Sixty one-second slots, each reset when its second comes round again; latency goes into
 * fixed buckets, so a percentile is the upper bound of the bucket it falls in (as
 * Prometheus's histogram_quantile would interpolate within it). A request costs a clock read,
 * a slot check and a short bucket scan: no allocation.
 */
const BOUNDS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, Infinity];
const SLOTS = 60;

export interface TrafficSummary {
  windowSeconds: number;
  requests: number;
  perSecond: number;
  /** Responses with status 500–599 (upstream failures, timeouts, Gatehouse's own errors). */
  serverErrors: number;
  /** Responses with status 400–499 (refusals: not found, unauthenticated, denied, limited). */
  clientErrors: number;
  /** serverErrors ÷ requests (0 without requests). */
  serverErrorRate: number;
  /** Upper bound of the latency bucket of the median and 99th percentile, in ms (undefined without requests); 10000 for the last bucket (over 10 s), where it is a lower bound. */
  p50Ms: number | undefined;
  p99Ms: number | undefined;
}

export class TrafficWindow {
  readonly #second = new Float64Array(SLOTS).fill(-1);
  readonly #requests = new Uint32Array(SLOTS);
  readonly #server = new Uint32Array(SLOTS);
  readonly #client = new Uint32Array(SLOTS);
  readonly #latency = new Uint32Array(SLOTS * BOUNDS_MS.length);

  record(status: number, ms: number, nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const slot = second % SLOTS;
    if (this.#second[slot] !== second) this.#reset(slot, second);
    this.#requests[slot]!++;
    if (status >= 500) this.#server[slot]!++;
    else if (status >= 400) this.#client[slot]!++;
    let b = 0;
    while (ms > BOUNDS_MS[b]!) b++;
    this.#latency[slot * BOUNDS_MS.length + b]!++;
  }

  #reset(slot: number, second: number): void {
    this.#second[slot] = second;
    this.#requests[slot] = 0;
    this.#server[slot] = 0;
    this.#client[slot] = 0;
    this.#latency.fill(0, slot * BOUNDS_MS.length, (slot + 1) * BOUNDS_MS.length);
  }

  /** The last full 60 seconds up to `nowMs` (the current second included). */
  summary(nowMs: number): TrafficSummary {
    const now = Math.floor(nowMs / 1000);
    let requests = 0;
    let server = 0;
    let client = 0;
    const latency = new Array<number>(BOUNDS_MS.length).fill(0);
    for (let slot = 0; slot < SLOTS; slot++) {
      const second = this.#second[slot]!;
      if (second < 0 || second > now || now - second >= SLOTS) continue;
      requests += this.#requests[slot]!;
      server += this.#server[slot]!;
      client += this.#client[slot]!;
      for (let b = 0; b < BOUNDS_MS.length; b++) latency[b]! += this.#latency[slot * BOUNDS_MS.length + b]!;
    }
    const percentile = (q: number): number | undefined => {
      if (requests === 0) return undefined;
      const rank = Math.ceil(q * requests);
      let seen = 0;
      for (let b = 0; b < BOUNDS_MS.length; b++) {
        seen += latency[b]!;
        if (seen >= rank) return BOUNDS_MS[b] === Infinity ? BOUNDS_MS[b - 1]! : BOUNDS_MS[b]!;
      }
      return undefined;
    };
    return {
      windowSeconds: SLOTS,
      requests,
      perSecond: Math.round((requests / SLOTS) * 100) / 100,
      serverErrors: server,
      clientErrors: client,
      serverErrorRate: requests === 0 ? 0 : Math.round((server / requests) * 10_000) / 10_000,
      p50Ms: percentile(0.5),
      p99Ms: percentile(0.99),
    };
  }
}
