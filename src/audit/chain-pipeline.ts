/**
 * The audit writer's batches, one behind the other: a batch handed in while the one before it
 * is still in flight is made ready at once (parsed, and on PostgreSQL linked from the head the
 * batch before it will leave, chain-batch.ts prepareBatch) and sent the moment that one is
 * stored. Linking a batch of 1,000 took ~3 ms of the ~20 a batch took from one to the next on
 * PostgreSQL; it now runs while the batch before waits on the database.
 *
 * Order and the chain stay what they were with one batch at a time:
 *   - a batch is sent only after the one before it is stored, on the head that one left;
 *   - if that one failed, this one is not sent and fails with {@link NOT_SENT_DETAIL} (the writer
 *     retries both, in order);
 *   - if the head is not where it was predicted (the batch before took the lock path, or skipped
 *     duplicates), the prepared links are dropped and the batch is linked again under the lock.
 */
import { GatehouseError } from '../core/errors.ts';
import type { Store } from '../store/types.ts';
import { prepareBatch, sendBatch, type AppendedBatch, type BatchDraft } from './chain-batch.ts';
import type { ChainHead } from './record.ts';

/** Detail of the error a batch fails with when the batch before it failed and it was never sent. */
export const NOT_SENT_DETAIL = 'audit batch not sent: the batch before it failed';

function notSent(): never {
  throw new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: NOT_SENT_DETAIL });
}

interface Tail {
  readonly done: Promise<AppendedBatch>;
  /** The head the batch leaves if it takes the one-message path, known before it is sent. */
  readonly predicted: ChainHead | undefined;
}

export class ChainPipeline {
  readonly #store: Store;
  /**
   * The last batch handed in, per chain, kept after it settles: the writer may hand in the next
   * one before it has seen the outcome (it books outcomes after its fdatasync).
   */
  readonly #tails = new Map<string, Tail>();

  constructor(store: Store) {
    this.#store = store;
  }

  /**
   * Appends `batch` to `chain`. With `afterPrevious`, after the last batch handed in for that chain
   * (in flight, or settled but not yet booked by the writer), from the head it leaves; otherwise
   * from `lastHead`, the head the writer last wrote (nothing of the chain is in flight then).
   */
  append(chain: string, batch: readonly BatchDraft[], lastHead: ChainHead | undefined, afterPrevious: boolean): Promise<AppendedBatch> {
    const store = this.#store;
    const prev = afterPrevious ? this.#tails.get(chain) : undefined;
    if (afterPrevious && prev === undefined) return Promise.reject(new GatehouseError('ERR_INTERNAL', { detail: 'audit batch handed in after a batch this committer is not holding' }));
    let done: Promise<AppendedBatch>;
    let predicted: ChainHead | undefined;
    try {
      const prepared = prepareBatch(store, chain, batch, prev === undefined ? lastHead : prev.predicted);
      predicted = prepared.linked?.head;
      done = prev === undefined
        ? sendBatch(store, chain, batch, prepared, lastHead)
        : prev.done.then((before) => sendBatch(store, chain, batch, prepared, before.head), notSent);
    } catch (err) {
      // A draft that does not parse: this batch fails, in its turn.
      done = prev === undefined ? Promise.reject(err) : prev.done.then(() => { throw err; }, notSent);
    }
    this.#tails.set(chain, { done, predicted });
    // Nobody else may wait on it; its failure is the caller's.
    done.catch(() => undefined);
    return done;
  }
}
