/**
 * Readiness: every dependency reports its own status and latency. A dependency is a
 * name plus a check; the gateway registers the store, bus, rate limiter and upstreams.
 */
export interface DependencyStatus {
  ok: boolean;
  latencyMs: number;
  detail?: string;
  /** Works now, but needs an operator soon (e.g. a CA about to expire); `detail` says what to do. Never makes the instance unready. */
  degraded?: boolean;
}
export type HealthCheck = () => Promise<DependencyStatus>;

export interface ReadinessReport {
  ready: boolean;
  instance: string;
  uptimeSeconds: number;
  dependencies: Record<string, DependencyStatus>;
  /** The last minute of requests, error rate and latency (traffic-window.ts); reported, never a reason to be unready. */
  traffic?: TrafficSummary;
}

import { setTimeout as sleep } from 'node:timers/promises';
import type { TrafficSummary } from './traffic-window.ts';

/** A check pending this long is given up on by later polls (see `#run`). */
export const ABANDON_CHECK_AFTER_MS = 30_000;

/**
 * Least time from one check of a dependency settling to the start of the next (see `#run`):
 * at most four checks a second however fast /readyz is polled.
 */
export const MIN_CHECK_SPACING_MS = 250;

interface Dependency {
  check: HealthCheck;
  critical: boolean;
  /** The check under way (or about to start), shared by every poll that arrives before it settles. */
  running?: { promise: Promise<DependencyStatus>; started: number } | undefined;
  /** When the last check settled (performance.now()). */
  settled: number;
}

export class HealthRegistry {
  readonly #checks = new Map<string, Dependency>();
  readonly #started = Date.now();
  readonly instance: string;

  #traffic: (() => TrafficSummary) | undefined;

  constructor(instance: string) { this.instance = instance; }

  /**
   * What the instance served lately. Not a readiness condition: an instance whose upstream
   * fails answers 502s, and taking it out of the load balancer would only move the same
   * failures to its siblings.
   */
  setTraffic(summary: () => TrafficSummary): void { this.#traffic = summary; }

  /** A non-critical dependency is reported but does not make the instance unready. */
  register(name: string, check: HealthCheck, options: { critical?: boolean } = {}): void {
    this.#checks.set(name, { check, critical: options.critical ?? true, settled: -Infinity });
  }

  unregister(name: string): void { this.#checks.delete(name); }

  /**
   * The check of `dep` under way, started if none is. Load balancers, the kubelet and
   * Prometheus poll at once: each poll starting its own checks multiplied the queries sent
   * to a store or Redis that may already be struggling, and a check that never settles
   * (a half-open connection) was started again, and left pending, on every poll. One pending
   * longer than {@link ABANDON_CHECK_AFTER_MS} is given up and a new one started: a check
   * whose promise is lost must not pin the dependency at "timed out" after it recovered.
   *
   * Polls one after another were not bounded by that: a loop polling /readyz (a misconfigured
   * probe, or anyone who reaches the ops listener) ran a round trip to the database, Redis and
   * NATS per poll, as fast as they answered, against dependencies every instance shares. A
   * check that would start within {@link MIN_CHECK_SPACING_MS} of the last one settling starts
   * when that time is up instead, and every poll arriving meanwhile shares it. The result is
   * never older than the poll: a poll waits for a new check rather than get the last one's.
   */
  #run(dep: Dependency): { promise: Promise<DependencyStatus>; started: number } {
    const now = performance.now();
    if (dep.running && now - dep.running.started < ABANDON_CHECK_AFTER_MS) return dep.running;
    const wait = Math.max(0, dep.settled + MIN_CHECK_SPACING_MS - now);
    const started = now + wait;
    const promise = (async () => {
      if (wait > 0) await sleep(wait);
      try {
        return await dep.check();
      } catch (err) {
        return { ok: false, latencyMs: performance.now() - started, detail: (err as Error).message };
      }
    })();
    // `started` is when the check itself starts: a poll's timeout counts from there, not from the wait.
    const running = { promise, started };
    dep.running = running;
    void promise.finally(() => {
      if (dep.running !== running) return;
      dep.running = undefined;
      dep.settled = performance.now();
    });
    return running;
  }

  async readiness(timeoutMs = 2000): Promise<ReadinessReport> {
    const entries = [...this.#checks.entries()];
    const results = await Promise.all(entries.map(async ([, dep]) => {
      const { promise, started } = this.#run(dep);
      let timer: NodeJS.Timeout | undefined;
      // A check that joined one under way gets what is left of the timeout since it started.
      const left = Math.max(0, timeoutMs - (performance.now() - started));
      try {
        return await Promise.race([
          promise,
          new Promise<DependencyStatus>((resolve) => { timer = setTimeout(() => resolve({ ok: false, latencyMs: performance.now() - started, detail: 'timed out' }), left); }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    }));
    const dependencies: Record<string, DependencyStatus> = {};
    let ready = true;
    for (const [i, status] of results.entries()) {
      const [name, dep] = entries[i]!;
      dependencies[name] = { ...status, latencyMs: Math.round(status.latencyMs * 100) / 100 };
      if (!status.ok && dep.critical) ready = false;
    }
    const report: ReadinessReport = { ready, instance: this.instance, uptimeSeconds: Math.round((Date.now() - this.#started) / 1000), dependencies };
    if (this.#traffic) report.traffic = this.#traffic();
    return report;
  }
}
