/**
 * Retention of detection state: alerts older than `detect.retentionDays` and blocks that
 * ended longer ago are deleted, so that the two tables do not grow for ever. Nothing of the
 * security history is lost with them: every alert and every block was an event, and the
 * audit log keeps it (with its own retention).
 */
import type { Logger } from 'pino';
import { toGatehouseError } from '../core/errors.ts';
import { createDetectRepo } from '../store/repos/detect-repo.ts';
import type { Store } from '../store/types.ts';

export interface DetectRetention {
  stop(): Promise<void>;
}

/** Deletes what ended before `now - maxAgeMs` once every `intervalMs` (first run after one interval). */
export function startDetectRetention(store: Store, options: { maxAgeMs: number; intervalMs: number; logger?: Logger; now?: () => number }): DetectRetention {
  const now = options.now ?? Date.now;
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = createDetectRepo(store.db).deleteEndedBefore(now() - options.maxAgeMs).then(
      (r) => { if (r.alerts || r.blocks) options.logger?.info(r, 'detect: retention deleted old alerts and ended blocks'); },
      (err: unknown) => options.logger?.warn({ err: toGatehouseError(err) }, 'detect: retention failed; will retry'),
    );
  }, options.intervalMs);
  timer.unref();
  return { async stop() { clearInterval(timer); await running; } };
}
