/**
 * Where the audit writer's batches are appended to the chain: on the calling thread
 * ({@link inlineCommitter}) or on a worker thread of their own (commit-thread.ts). Either way the
 * committer keeps the actor index behind what it wrote (chain-indexers.ts).
 */
import type { Store } from '../store/types.ts';
import type { AppendedBatch, BatchDraft } from './chain-batch.ts';
import { ChainPipeline } from './chain-pipeline.ts';
import { ChainIndexers, type ActorIndexSettings } from './chain-indexers.ts';
import type { ChainHead } from './record.ts';

export interface BatchCommitter {
  /**
   * Whether a batch may be handed in while the one before it is in flight (`afterPrevious`,
   * chain-pipeline.ts): on PostgreSQL, where it is linked meanwhile. SQLite links under its write
   * lock, so a batch waiting behind another would gain nothing there.
   */
  readonly pipelined: boolean;
  /**
   * {@link appendBatch} of `batch`; rejects with the store's error (a GatehouseError) when it fails.
   * With `afterPrevious` (only when {@link pipelined}), after the batch handed in before it, which
   * is still in flight, from the head that one leaves (`lastHead` is then not used); if that one
   * fails, this one is not sent and fails too.
   */
  commit(chain: string, batch: readonly BatchDraft[], lastHead: ChainHead | undefined, afterPrevious?: boolean): Promise<AppendedBatch>;
  /**
   * Brings the actor index up to what was committed (waiting at most `timeoutMs`), then frees what
   * the committer holds (not the store it was given). Idempotent.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** Commits on the calling thread through `store`. */
export function inlineCommitter(store: Store, index: ActorIndexSettings = {}): BatchCommitter {
  const indexers = new ChainIndexers(store, index);
  const pipeline = new ChainPipeline(store);
  let closing: Promise<void> | undefined;
  return {
    pipelined: store.dialect === 'postgres',
    async commit(chain, batch, lastHead, afterPrevious = false) {
      const appended = await pipeline.append(chain, batch, lastHead, afterPrevious);
      indexers.note(chain, appended.head.seq);
      return appended;
    },
    close: (timeoutMs = 5_000) => (closing ??= indexers.close(timeoutMs)),
  };
}
