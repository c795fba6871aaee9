/**
 * Retention by age. Records are deleted only up to a signed checkpoint (the newest one
 * whose record is older than the cut-off), and that checkpoint is kept: verification
 * then starts from it, so deleting old records never breaks `audit verify`.
 */
import type { Logger } from 'pino';
import { toGatehouseError } from '../core/errors.ts';
import { createAuditRepo } from '../store/repos/audit-repo.ts';
import type { Store } from '../store/types.ts';

export interface RetentionResult {
  chain: string;
  /** Seq of the checkpoint the chain now starts after, or undefined when nothing could be deleted. */
  cutAt: number | undefined;
  deletedRecords: number;
  deletedCheckpoints: number;
}

/** Deletes a chain's records older than `now - maxAgeMs`, up to the newest checkpoint before that time. */
export async function applyRetention(store: Store, options: { chain: string; maxAgeMs: number; now?: number }): Promise<RetentionResult> {
  const cutoff = (options.now ?? Date.now()) - options.maxAgeMs;
  return store.transaction(async (trx) => {
    const repo = createAuditRepo(trx, store.dialect);
    const cp = await repo.lastCheckpointBefore(options.chain, cutoff);
    if (!cp) return { chain: options.chain, cutAt: undefined, deletedRecords: 0, deletedCheckpoints: 0 };
    const deletedRecords = await repo.deleteThrough(options.chain, cp.seq);
    const deletedCheckpoints = await repo.deleteCheckpointsBefore(options.chain, cp.seq);
    return { chain: options.chain, cutAt: cp.seq, deletedRecords, deletedCheckpoints };
  });
}

export interface RetentionTask {
  stop(): Promise<void>;
}

/** Runs `applyRetention` every `intervalMs` (first run after one interval). */
export function startRetention(store: Store, options: { chain: string; maxAgeMs: number; intervalMs: number; logger?: Logger }): RetentionTask {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = applyRetention(store, options).then(
      (r) => { if (r.deletedRecords) options.logger?.info(r, 'audit: retention deleted old records'); },
      (err: unknown) => options.logger?.warn({ err: toGatehouseError(err) }, 'audit: retention failed; will retry'),
    );
  }, options.intervalMs);
  timer.unref();
  return { async stop() { clearInterval(timer); await running; } };
}
