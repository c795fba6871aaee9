/**
 * Counts work in flight and lets callers wait until it drops to a level; backs `flush()`.
 */
export class IdleTracker {
  #pending = 0;
  #waiters: { level: number; resolve: () => void }[] = [];

  get pending(): number {
    return this.#pending;
  }

  add(count: number): void {
    this.#pending += count;
  }

  done(count: number): void {
    if (count === 0) return;
    this.#pending = Math.max(0, this.#pending - count);
    if (this.#waiters.length === 0) return;
    // Called once per handled event while a flush waits: look before allocating.
    let any = false;
    for (const w of this.#waiters) if (this.#pending <= w.level) any = true;
    if (!any) return;
    const ready = this.#waiters.filter((w) => this.#pending <= w.level);
    this.#waiters = this.#waiters.filter((w) => this.#pending > w.level);
    for (const w of ready) w.resolve();
  }

  /** Resolves once at most `level` units are pending; rejects after `timeoutMs`. */
  waitUntilAtMost(level: number, timeoutMs: number): Promise<void> {
    if (this.#pending <= level) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        level,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`event bus: ${this.#pending} events still pending after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }
}
