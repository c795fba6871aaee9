/**
 * The audit writer's batches committed on a worker thread (commit-thread-worker.ts).
 *
 * On the main thread an access record costs its fields, its canonical JSON and its spool
 * line; the chain hash, the INSERT and the database's own work on it were as much again, on
 * the same thread that answers requests. Here they run on a thread with its own connection:
 * on a machine with a core to spare, the request path no longer pays for them (BENCHMARKS.md).
 *
 * What crosses the threads per batch is the drafts' text (their canonical JSON, already the
 * spool lines) and a byte each; the worker parses them back. The writer keeps
 * everything else — the spool, the queue, retries, checkpoints, the actor index — on its own
 * thread, and a failed batch comes back as the same GatehouseError code an inline commit would
 * throw, so retry and duplicate handling do not change.
 *
 * SQLite: the worker's connection is a second one on the file. A statement of the main thread
 * that needs the write lock while a batch holds it waits for it (busy_timeout) instead of
 * queueing behind it on the connection's mutex: a batch of 1,000 records holds it for a few
 * milliseconds. An in-memory database cannot be shared between connections: {@link commitThreadFor}
 * answers undefined for it and the writer commits inline.
 */
import { Worker } from 'node:worker_threads';
import { GatehouseError } from '../core/errors.ts';
import { stopWorker } from '../core/threads/stop-worker.ts';
import { logFromThread, type LogMessage } from '../core/threads/port-logger.ts';
import type { Logger } from 'pino';
import type { ActorIndexSettings } from './chain-indexers.ts';
import { ERROR_CODES, type ErrorCode } from '../core/error-codes.ts';
import { parseStoreUrl } from '../store/store-url.ts';
import type { StoreConnectionSpec } from '../store/types.ts';
import type { AppendedBatch, BatchDraft } from './chain-batch.ts';
import type { BatchCommitter } from './batch-committer.ts';
import { canonicalDraftJson } from './hash.ts';
import type { AuditDraft, ChainHead } from './record.ts';

/** @internal the worker's `workerData`: how to open the store, and the actor index's setting. */
export interface CommitThreadData extends StoreConnectionSpec {
  actorIndexEvery: number | undefined;
}

/** @internal: index what was committed (at most `drainMs`), close the store, exit. */
export interface CloseRequest { type: 'close'; drainMs: number }

/** @internal */
export interface CommitRequest {
  type: 'commit';
  id: number;
  chain: string;
  /**
   * Each draft's canonical JSON, or the draft itself when it has none (a time that is not a
   * safe integer, a string that is not well-formed): cloned as is, so that it hashes as it
   * would have inline (JSON would turn a NaN into null).
   */
  drafts: (string | AuditDraft)[];
  /** One byte per draft: 1 when it may already be stored. */
  mayDuplicate: Uint8Array;
  lastHead: ChainHead | undefined;
  /** After the batch sent before it, still in flight (BatchCommitter.commit). */
  afterPrevious: boolean;
}

/** @internal */
export type CommitAnswer =
  | { type: 'committed'; id: number; result: AppendedBatch }
  | { type: 'failed'; id: number; code: string; detail: string }
  | LogMessage;

/** Thread name: `comm` in /proc, where the benchmark finds it to give it a core. */
export const COMMIT_THREAD_NAME = 'audit-commit';

/** How long close() waits beyond its actor index deadline before the thread is terminated. */
const STOP_GRACE_MS = 10_000;

/** A batch sent to a thread, waiting for its answer. */
interface Pending { worker: Worker; resolve: (r: AppendedBatch) => void; reject: (e: Error) => void }

/**
 * Most connections of the thread's PostgreSQL pool: one batch at a time needs one; the second
 * covers a connection being replaced.
 */
const POOL_MAX = 2;

/**
 * A committer on a worker thread for the store `spec` opens, or undefined when it cannot have one
 * (in-memory SQLite). `index.logger` receives the thread's log lines (the actor index's warnings).
 */
export function commitThreadFor(spec: StoreConnectionSpec, index: ActorIndexSettings = {}): CommitThread | undefined {
  const parsed = parseStoreUrl(spec.url);
  if (parsed.dialect === 'sqlite' && parsed.location === ':memory:') return undefined;
  return new CommitThread({ url: spec.url, options: { ...spec.options, poolMax: Math.min(spec.options.poolMax ?? POOL_MAX, POOL_MAX) }, actorIndexEvery: index.every }, index.logger);
}

export class CommitThread implements BatchCommitter {
  readonly #data: CommitThreadData;
  readonly #logger: Logger | undefined;
  #worker: Worker | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #closed = false;
  readonly pipelined: boolean;

  constructor(data: CommitThreadData, logger?: Logger) {
    this.#data = data;
    this.#logger = logger;
    this.pipelined = parseStoreUrl(data.url).dialect === 'postgres';
  }

  /** @internal for tests: the worker thread, once started. */
  get worker(): Worker | undefined {
    return this.#worker;
  }

  commit(chain: string, batch: readonly BatchDraft[], lastHead: ChainHead | undefined, afterPrevious = false): Promise<AppendedBatch> {
    if (this.#closed) return Promise.reject(new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'audit commit thread is closed' }));
    const drafts: (string | AuditDraft)[] = new Array(batch.length);
    const mayDuplicate = new Uint8Array(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const q = batch[i]!;
      // Absent only for drafts queued behind a long queue (their text was not kept) or recovered from the spool.
      drafts[i] = q.draft === undefined ? q.canonical : q.canonical ?? canonicalDraftJson(q.draft) ?? q.draft;
      if (q.mayDuplicate) mayDuplicate[i] = 1;
    }
    // A batch after one in flight goes to the thread that holds that one; a new thread holds none (it fails there).
    const worker = this.#worker ?? this.#start();
    const id = ++this.#nextId;
    const request: CommitRequest = { type: 'commit', id, chain, drafts, mayDuplicate, lastHead, afterPrevious };
    return new Promise<AppendedBatch>((resolve, reject) => {
      try {
        worker.postMessage(request, [mayDuplicate.buffer]);
      } catch (err) {
        // A draft that cannot be cloned: the batch fails here rather than waiting for an answer that never comes.
        reject(new GatehouseError('ERR_INTERNAL', { detail: `audit batch not sent to its commit thread: ${(err as Error).message}` }));
        return;
      }
      this.#pending.set(id, { worker, resolve, reject });
      // Referenced while a batch is under way: a script that awaits the writer's flush has nothing else keeping it alive.
      worker.ref();
    });
  }

  /**
   * Brings the thread's actor index up to date (at most `timeoutMs`), closes the worker's store
   * and waits for the thread to exit; terminated {@link STOP_GRACE_MS} after that deadline. A batch still under way (the writer's close ran out of time waiting
   * for it) is abandoned: the thread is terminated at once, which rolls back its transaction
   * unless it already committed, and the batch fails with ERR_STORE_UNAVAILABLE.
   */
  close(timeoutMs = 5_000): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker === undefined) return Promise.resolve();
    if (this.#pendingOf(worker).length > 0) {
      worker.ref();
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      void worker.terminate();
      return exited;
    }
    return stopWorker(worker, { type: 'close', drainMs: timeoutMs } satisfies CloseRequest, timeoutMs + STOP_GRACE_MS);
  }

  #pendingOf(worker: Worker): [number, Pending][] {
    return [...this.#pending].filter(([, p]) => p.worker === worker);
  }

  #start(): Worker {
    const worker = new Worker(new URL('./commit-thread-worker.ts', import.meta.url), { workerData: this.#data, name: COMMIT_THREAD_NAME });
    this.#worker = worker;
    worker.on('message', (answer: CommitAnswer) => this.#settle(worker, answer));
    worker.on('error', (err) => this.#lost(worker, `failed: ${err.message}`));
    worker.on('exit', (code) => this.#lost(worker, `exited with code ${code}`));
    // Never what keeps a process alive while idle. After the listeners: adding a 'message' listener refs the port again.
    worker.unref();
    return worker;
  }

  #settle(worker: Worker, answer: CommitAnswer): void {
    if (answer.type === 'log') {
      logFromThread(this.#logger, COMMIT_THREAD_NAME, answer);
      return;
    }
    const pending = this.#pending.get(answer.id);
    if (pending === undefined) return;
    this.#pending.delete(answer.id);
    if (this.#pendingOf(worker).length === 0 && worker === this.#worker) worker.unref();
    if (answer.type === 'committed') pending.resolve(answer.result);
    else pending.reject(new GatehouseError(answer.code in ERROR_CODES ? answer.code as ErrorCode : 'ERR_INTERNAL', { detail: answer.detail }));
  }

  /**
   * A thread is gone: its batches fail (whether they committed is for the next batch's duplicate
   * check), the next batch starts a new one. Only its own: the 'exit' of a thread that already
   * reported an error can come after its replacement took a batch.
   */
  #lost(worker: Worker, what: string): void {
    if (worker === this.#worker) this.#worker = undefined;
    for (const [id, p] of this.#pendingOf(worker)) {
      this.#pending.delete(id);
      p.reject(new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: `audit commit thread ${what}` }));
    }
  }
}
