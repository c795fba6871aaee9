/**
 * Readiness: every dependency reports its own status and latency. A dependency is a
 * name plus a check; the gateway registers the store, bus, rate limiter and upstreams.
 */
export interface DependencyStatus { ok: boolean; latencyMs: number; detail?: string }
export type HealthCheck = () => Promise<DependencyStatus>;

export interface ReadinessReport {
  ready: boolean;
  instance: string;
  uptimeSeconds: number;
  dependencies: Record<string, DependencyStatus>;
}

export class HealthRegistry {
  readonly #checks = new Map<string, { check: HealthCheck; critical: boolean }>();
  readonly #started = Date.now();
  readonly instance: string;

  constructor(instance: string) { this.instance = instance; }

  /** A non-critical dependency is reported but does not make the instance unready. */
  register(name: string, check: HealthCheck, options: { critical?: boolean } = {}): void {
    this.#checks.set(name, { check, critical: options.critical ?? true });
  }

  unregister(name: string): void { this.#checks.delete(name); }

  async readiness(timeoutMs = 2000): Promise<ReadinessReport> {
    const entries = [...this.#checks.entries()];
    const results = await Promise.all(entries.map(async ([name, { check }]) => {
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        const status = await Promise.race([
          check(),
          new Promise<DependencyStatus>((resolve) => { timer = setTimeout(() => resolve({ ok: false, latencyMs: timeoutMs, detail: 'timed out' }), timeoutMs); }),
        ]);
        return [name, status] as const;
      } catch (err) {
        return [name, { ok: false, latencyMs: performance.now() - started, detail: (err as Error).message }] as const;
      } finally {
        clearTimeout(timer);
      }
    }));
    const dependencies: Record<string, DependencyStatus> = {};
    let ready = true;
    for (const [i, [name, status]] of results.entries()) {
      dependencies[name] = { ...status, latencyMs: Math.round(status.latencyMs * 100) / 100 };
      if (!status.ok && entries[i]![1].critical) ready = false;
    }
    return { ready, instance: this.instance, uptimeSeconds: Math.round((Date.now() - this.#started) / 1000), dependencies };
  }
}
