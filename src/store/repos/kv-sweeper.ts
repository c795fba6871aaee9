/**
 * Periodically deletes expired kv records. Expired records are already invisible to
 * reads; sweeping only reclaims space, so every instance may run one (deletes are
 * idempotent) and a failed sweep is logged and retried at the next tick.
 */
import type { Logger } from 'pino';
import type { KvRepo } from './kv-repo.ts';

export interface KvSweeper {
  /** Stops the timer and waits for a running sweep. */
  stop(): Promise<void>;
}

/** @example const sweeper = startKvSweeper(createKvRepo(store.db), 5 * 60_000, logger); */
export function startKvSweeper(kv: Pick<KvRepo, 'deleteExpired'>, intervalMs: number, logger?: Logger): KvSweeper {
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(async () => {
      try {
        const deleted = await kv.deleteExpired();
        if (deleted > 0) logger?.debug({ deleted }, 'store: expired kv records swept');
      } catch (error) {
        logger?.warn({ err: error }, 'store: kv sweep failed');
      }
    });
  }, intervalMs);
  // The sweeper alone must not keep the process alive.
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
