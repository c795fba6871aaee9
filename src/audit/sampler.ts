/**
 * Sampling of high-volume access events: on routes listed in `audit.sampling.routes`, an
 * allowed request (status < 400) is kept with the configured probability. Every event
 * left out is counted per route, and the counts are themselves recorded (`audit.sampled`
 * records) every `flushMs`, so the log still says how many requests there were.
 * Denials, errors and every event other than `gateway.request` are never sampled.
 */
import { randomUUIDv7 } from 'node:crypto';
import type { AuditDraft } from './record.ts';

export interface SamplerOptions {
  routes: Readonly<Record<string, number>>;
  instance: string;
  random?: () => number;
}

export class AccessSampler {
  #routes: Readonly<Record<string, number>>;
  readonly #instance: string;
  readonly #random: () => number;
  #counts = new Map<string, number>();
  #since = Date.now();

  constructor(options: SamplerOptions) {
    this.#routes = options.routes;
    this.#instance = options.instance;
    this.#random = options.random ?? Math.random;
  }

  /**
   * New per-route rates (configuration reload) for the requests that follow. Call
   * {@link drain} first: the counts kept so far were taken at the old rates, which is what
   * their `audit.sampled` records must say.
   */
  setRoutes(routes: Readonly<Record<string, number>>): void {
    this.#routes = routes;
  }

  /**
   * True when the event must be recorded; false counts it as sampled out. `failed`: the
   * request ended in an error although its status is below 400 (a response cut off after
   * its status line was sent, e.g. an upstream breaking off mid-body).
   */
  keep(routeId: string | undefined, status: number, failed = false): boolean {
    if (routeId === undefined || status >= 400 || failed) return true;
    const rate = this.#routes[routeId];
    if (rate === undefined || rate >= 1) return true;
    if (rate > 0 && this.#random() < rate) return true;
    this.#counts.set(routeId, (this.#counts.get(routeId) ?? 0) + 1);
    return false;
  }

  /** Drafts of the counts since the previous call (one per route with a count), then resets. */
  drain(now = Date.now()): AuditDraft[] {
    const drafts: AuditDraft[] = [];
    for (const [routeId, count] of this.#counts) {
      drafts.push({
        time: now, instance: this.#instance, event: 'audit.sampled', eventId: randomUUIDv7(), requestId: null, traceId: null,
        actor: null, actorKind: 'system', action: 'audit.sampled', resource: `route:${routeId}`, outcome: 'info', decisionId: null,
        reasons: null, clientAddress: null,
        details: JSON.stringify({ routeId, sampledOut: count, rate: this.#routes[routeId], since: new Date(this.#since).toISOString(), until: new Date(now).toISOString() }),
      });
    }
    this.#counts = new Map();
    this.#since = now;
    return drafts;
  }
}
