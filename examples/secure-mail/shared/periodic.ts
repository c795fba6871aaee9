/**
 * A job that runs every `tickMs` until stopped: one run at a time (a tick requested while
 * one is running joins it), the next run scheduled only after the previous one settled, and
 * a failing run logged without ending the loop. `stop()` waits for a run in progress.
 */
import type { Logger } from 'pino';

export class PeriodicJob {
  readonly #run: () => Promise<void>;
  readonly #tickMs: number;
  readonly #logger: Logger;
  readonly #name: string;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(name: string, tickMs: number, logger: Logger, run: () => Promise<void>) {
    this.#name = name;
    this.#tickMs = tickMs;
    this.#logger = logger;
    this.#run = run;
  }

  start(): void {
    const loop = () => {
      if (this.#stopped) return;
      void this.tick().finally(() => { if (!this.#stopped) this.#timer = setTimeout(loop, this.#tickMs); });
    };
    loop();
  }

  /** Runs the job now; concurrent calls share one run. */
  tick(): Promise<void> {
    if (this.#running) return this.#running;
    const run = this.#run().catch((err: unknown) => { this.#logger.error({ err }, `${this.#name} tick failed`); });
    // Cleared after assignment: a run that finishes synchronously must not stay cached.
    this.#running = run.finally(() => { this.#running = undefined; });
    return this.#running;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }
}
