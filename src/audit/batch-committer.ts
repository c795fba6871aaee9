/**
 * Where the audit writer's batches are appended to the chain: on the calling thread
 * ({@link inlineCommitter}) or on a worker thread of their own (commit-thread.ts).
 */
import type { Store } from '../store/types.ts';
import { appendBatch, type AppendedBatch, type BatchDraft } from './chain-batch.ts';
import type { ChainHead } from './record.ts';

export interface BatchCommitter {
  /** {@link appendBatch} of `batch`; rejects with the store's error (a GatehouseError) when it fails. */
  commit(chain: string, batch: readonly BatchDraft[], lastHead: ChainHead | undefined): Promise<AppendedBatch>;
  /** Frees what the committer holds (not the store it was given). Idempotent. */
  close(): Promise<void>;
}

/** Commits on the calling thread through `store`. */
export function inlineCommitter(store: Store): BatchCommitter {
  return {
    commit: (chain, batch, lastHead) => appendBatch(store, chain, batch, lastHead),
    close: () => Promise.resolve(),
  };
}
