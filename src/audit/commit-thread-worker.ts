/**
 * Worker thread of {@link CommitThread}: appends the audit writer's batches to the chain
 * through a store connection of its own, so that hashing the records, building the INSERT and
 * the database's work on it (SQLite's B-trees and commit, or the PostgreSQL client's encoding)
 * run beside the request path instead of on it.
 *
 * The drafts arrive as their canonical JSON, which appendBatch parses back.
 *
 * Messages in: {@link CommitRequest} (one at a time: the writer waits for each answer), 'close'.
 * Messages out: {@link CommitAnswer} for each request. The store is opened at the first batch
 * and again after a batch that found it closed; a failed open is that batch's failure, retried
 * by the writer like any other.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toGatehouseError } from '../core/errors.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/types.ts';
import { appendBatch, type BatchDraft } from './chain-batch.ts';
import type { CommitAnswer, CommitRequest, CommitThreadData } from './commit-thread.ts';

const port = parentPort;
if (!port) throw new Error('commit-thread-worker runs in a worker thread');
const data = workerData as CommitThreadData;

let store: Store | undefined;

async function commit(m: CommitRequest): Promise<CommitAnswer> {
  try {
    // Its own WAL checkpoints stay SQLite's automatic ones, inside this thread's COMMIT: off the main thread either way.
    store ??= await openStore(data.url, { ...data.options, sqliteWalCheckpointer: false });
    const batch: BatchDraft[] = new Array(m.drafts.length);
    for (let i = 0; i < m.drafts.length; i++) {
      const d = m.drafts[i]!;
      const mayDuplicate = m.mayDuplicate[i] === 1;
      batch[i] = typeof d === 'string' ? { draft: undefined, canonical: d, mayDuplicate } : { draft: d, canonical: undefined, mayDuplicate };
    }
    const result = await appendBatch(store, m.chain, batch, m.lastHead);
    return { type: 'committed', id: m.id, result };
  } catch (err) {
    const e = toGatehouseError(err);
    return { type: 'failed', id: m.id, code: e.code, detail: e.detail ?? e.message };
  }
}

port.on('message', (m: CommitRequest | 'close') => {
  if (m === 'close') {
    const closing = store?.close() ?? Promise.resolve();
    store = undefined;
    // Nothing else holds the thread open once the port is closed: it exits after the store.
    void closing.finally(() => port.close());
    return;
  }
  void commit(m).then((answer) => port.postMessage(answer));
});
