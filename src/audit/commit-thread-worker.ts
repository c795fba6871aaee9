/**
 * Worker thread of {@link CommitThread}: appends the audit writer's batches to the chain
 * through a store connection of its own, so that hashing the records, building the INSERT and
 * the database's work on it (SQLite's B-trees and commit, or the PostgreSQL client's encoding)
 * run beside the request path instead of on it.
 * The store is opened once, by the first batch (a batch after it waits for the same opening).
 *
 * The drafts arrive as their canonical JSON, which appendBatch parses back.
 *
 * Messages in: {@link CommitRequest} (on PostgreSQL a second may come while the first is in flight:
 * it is linked meanwhile and sent after it, chain-pipeline.ts), {@link CloseRequest}.
 * Messages out: {@link CommitAnswer} for each request, log lines (the actor index's warnings).
 * After each batch the actor index of its chain is told the new head (chain-indexers.ts). The store is opened at the first batch
 * and again after a batch that found it closed; a failed open is that batch's failure, retried
 * by the writer like any other.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toGatehouseError } from '../core/errors.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/types.ts';
import type { BatchDraft } from './chain-batch.ts';
import { ChainPipeline } from './chain-pipeline.ts';
import { ChainIndexers } from './chain-indexers.ts';
import type { CloseRequest, CommitAnswer, CommitRequest, CommitThreadData } from './commit-thread.ts';
import { portLogger } from '../core/threads/port-logger.ts';

const port = parentPort;
if (!port) throw new Error('commit-thread-worker runs in a worker thread');
const data = workerData as CommitThreadData;

let store: Store | undefined;
/** The store's opening, shared by the batches that arrive while it is under way; cleared when it fails. */
let opening: Promise<{ store: Store; pipeline: ChainPipeline }> | undefined;
/** The actor index behind this thread's commits (chain-indexers.ts), from the first batch on. */
let indexers: ChainIndexers | undefined;

async function commit(m: CommitRequest): Promise<CommitAnswer> {
  try {
    // Its own WAL checkpoints stay SQLite's automatic ones, inside this thread's COMMIT: off the main thread either way.
    opening ??= openStore(data.url, { ...data.options, sqliteWalCheckpointer: false }).then((s) => {
      store = s;
      return { store: s, pipeline: new ChainPipeline(s) };
    }, (err: unknown) => {
      opening = undefined;
      throw err;
    });
    const opened = await opening;
    const batch: BatchDraft[] = new Array(m.drafts.length);
    for (let i = 0; i < m.drafts.length; i++) {
      const d = m.drafts[i]!;
      const mayDuplicate = m.mayDuplicate[i] === 1;
      batch[i] = typeof d === 'string' ? { draft: undefined, canonical: d, mayDuplicate } : { draft: d, canonical: undefined, mayDuplicate };
    }
    const result = await opened.pipeline.append(m.chain, batch, m.lastHead, m.afterPrevious);
    indexers ??= new ChainIndexers(opened.store, { logger: portLogger(port!), ...(data.actorIndexEvery ? { every: data.actorIndexEvery } : {}) });
    indexers.note(m.chain, result.head.seq);
    return { type: 'committed', id: m.id, result };
  } catch (err) {
    const e = toGatehouseError(err);
    return { type: 'failed', id: m.id, code: e.code, detail: e.detail ?? e.message };
  }
}

port.on('message', (m: CommitRequest | CloseRequest) => {
  if (m.type === 'close') {
    // The actor index first (bounded), then the store: it runs on this thread's connection.
    const closing = (indexers?.close(m.drainMs) ?? Promise.resolve()).then(() => store?.close());
    // Nothing else holds the thread open once the port is closed: it exits after the store.
    void closing.finally(() => {
      store = undefined;
      port.close();
    });
    return;
  }
  void commit(m).then((answer) => port.postMessage(answer));
});
