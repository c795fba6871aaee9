/**
 * Where the audit writer's batches are appended to the chain: on the calling thread
 * ({@link inlineCommitter}) or on a worker thread of their own (commit-thread.ts). Either way the
 * committer keeps the actor index behind what it wrote (chain-indexers.ts).
 */
import type { Store } from '../store/types.ts';
import { appendBatch, type AppendedBatch, type BatchDraft } from './chain-batch.ts';
import { ChainIndexers, type ActorIndexSettings } from './chain-indexers.ts';
import type { ChainHead } from './record.ts';

export interface BatchCommitter {
  /** {@link appendBatch} of `batch`; rejects with the store's error (a GatehouseError) when it fails. */
  commit(chain: string, batch: readonly BatchDraft[], lastHead: ChainHead | undefined): Promise<AppendedBatch>;
  /**
   * Brings the actor index up to what was committed (waiting at most `timeoutMs`), then frees what
   * the committer holds (not the store it was given). Idempotent.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** Commits on the calling thread through `store`. */
export function inlineCommitter(store: Store, index: ActorIndexSettings = {}): BatchCommitter {
  const indexers = new ChainIndexers(store, index);
  let closing: Promise<void> | undefined;
  return {
    async commit(chain, batch, lastHead) {
      const appended = await appendBatch(store, chain, batch, lastHead);
      indexers.note(chain, appended.head.seq);
      return appended;
    },
    close: (timeoutMs = 5_000) => (closing ??= indexers.close(timeoutMs)),
  };
}
