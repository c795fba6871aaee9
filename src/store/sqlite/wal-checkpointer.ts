/**
 * Moves WAL checkpoints of a database file off the main thread.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses `wal_autocheckpoint`
 * pages, on the committing thread, and waits for fsync: with `node:sqlite` that is the main
 * thread, and measured on audit batches it more than doubled the wall time of a commit.
 * Here, once the connection has written enough to be worth a thread, a worker with its own
 * connection to the same file runs PASSIVE checkpoints after writes (at most one per
 * `minIntervalMs`) and the main connection's automatic checkpoint is turned off.
 *
 * The WAL stays bounded: the worker truncates it once it holds `truncateFrames` frames, and
 * whenever the worker dies, fails or has not answered for `staleMs`, the main connection's
 * automatic checkpoint is turned back on. Durability is unchanged: checkpoints only copy
 * committed pages from the WAL into the database file.
 */
import type { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { stopWorker } from '../../core/threads/stop-worker.ts';

export interface WalCheckpointerOptions {
  /** Rows written (a statement counts at least one) before the worker is started: a store that writes a little never pays for a thread. */
  afterRows: number;
  /** Least time between two checkpoints of the worker. */
  minIntervalMs: number;
  /** WAL length (in frames) at which the worker truncates it instead of a PASSIVE checkpoint. */
  truncateFrames: number;
  /** A checkpoint request unanswered this long brings the automatic checkpoint back. */
  staleMs: number;
}

export const WAL_CHECKPOINTER_DEFAULTS: WalCheckpointerOptions = {
  afterRows: 2000,
  minIntervalMs: 200,
  // 40 MiB of 4 KiB pages; the automatic checkpoint runs at 1000.
  truncateFrames: 10_000,
  staleMs: 5000,
};

/** SQLite's default `wal_autocheckpoint`, restored on fallback. */
const AUTOCHECKPOINT_PAGES = 1000;
/** How long close() lets the worker finish a checkpoint under way before terminating it. */
const STOP_GRACE_MS = 10_000;

/** @internal the worker's `workerData`. */
export interface CheckpointerWorkerData {
  file: string;
  busyTimeoutMs: number;
  journalSizeLimit: number;
  minIntervalMs: number;
  truncateFrames: number;
}

/** @internal a checkpoint's result as SQLite reports it (`log` and `checkpointed` in frames). */
export interface CheckpointReport {
  type: 'checkpointed';
  busy: number;
  log: number;
  checkpointed: number;
  truncated?: boolean;
}

type State = 'idle' | 'starting' | 'running' | 'stopped';

export class WalCheckpointer {
  readonly #db: DatabaseSync;
  readonly #data: CheckpointerWorkerData;
  readonly #options: WalCheckpointerOptions;
  #state: State = 'idle';
  #worker: Worker | undefined;
  #rows = 0;
  /** When the outstanding checkpoint request was sent; 0 when none is. */
  #requestedAt = 0;
  /** Writes happened after the outstanding request was sent. */
  #dirty = false;
  #automatic = true;
  /** The last report, for tests and diagnostics. */
  lastReport: CheckpointReport | undefined;

  constructor(db: DatabaseSync, file: string, busyTimeoutMs: number, journalSizeLimit: number, options: Partial<WalCheckpointerOptions> = {}) {
    this.#db = db;
    this.#options = { ...WAL_CHECKPOINTER_DEFAULTS, ...options };
    this.#data = { file, busyTimeoutMs, journalSizeLimit, minIntervalMs: this.#options.minIntervalMs, truncateFrames: this.#options.truncateFrames };
  }

  /** True while the worker checkpoints and the main connection's automatic checkpoint is off. */
  get active(): boolean {
    return this.#state === 'running' && !this.#automatic;
  }

  /** @internal for tests: the worker thread, once started. */
  get worker(): Worker | undefined {
    return this.#worker;
  }

  /** Called after every write statement on the main connection: cheap unless a request is due. */
  wrote(rows: number): void {
    if (this.#state === 'running') {
      if (this.#requestedAt === 0) this.#request();
      else {
        this.#dirty = true;
        // A worker that does not answer (stuck on I/O, starved of CPU) must not let the WAL grow.
        if (!this.#automatic && performance.now() - this.#requestedAt > this.#options.staleMs) this.#setAutomatic(true);
      }
    } else if (this.#state === 'idle' && (this.#rows += Math.max(rows, 1)) >= this.#options.afterRows) {
      this.#start();
    }
  }

  /**
   * Stops the worker (which closes its connection); resolves once its thread has exited. The
   * main connection is the caller's to close. Awaited by the store's close: a worker still
   * starting opens the file after the store has closed it (and, as the last connection, writes
   * and removes the -wal and -shm files on its own close), so without the wait a caller that
   * removes the database's directory right after close found it not empty again.
   *
   * The worker is referenced again while it stops: unreferenced, a process with nothing else
   * to do exited before the worker's 'exit' event, so close() never settled (a script's
   * `await store.close()` ended it with exit code 13 and nothing after it ran). A worker that
   * has not exited after {@link STOP_GRACE_MS} (stuck in a checkpoint's I/O) is terminated.
   */
  stop(): Promise<void> {
    const worker = this.#worker;
    this.#state = 'stopped';
    this.#worker = undefined;
    if (worker === undefined) return Promise.resolve();
    return stopWorker(worker, 'stop', STOP_GRACE_MS);
  }

  #start(): void {
    this.#state = 'starting';
    const worker = new Worker(new URL('./wal-checkpointer-worker.ts', import.meta.url), { workerData: this.#data });
    this.#worker = worker;
    worker.on('message', (message: 'ready' | CheckpointReport) => this.#onMessage(worker, message));
    worker.on('error', () => this.#fail(worker));
    worker.on('exit', () => this.#fail(worker));
    // Never what keeps a process alive: close() stops it, and a process that exits without
    // closing leaves a WAL that the next open recovers. After the listeners: adding a
    // 'message' listener refs the worker's port again.
    worker.unref();
  }

  #onMessage(worker: Worker, message: 'ready' | CheckpointReport): void {
    if (worker !== this.#worker || this.#state === 'stopped') return;
    if (message === 'ready') {
      this.#state = 'running';
      this.#setAutomatic(false);
      this.#request();
      return;
    }
    this.lastReport = message;
    this.#requestedAt = 0;
    // A WAL the worker could not bring below the bound: let every commit try as well.
    this.#setAutomatic(message.log >= this.#options.truncateFrames);
    if (this.#dirty) this.#request();
  }

  #request(): void {
    this.#dirty = false;
    this.#requestedAt = performance.now();
    this.#worker?.postMessage('checkpoint');
  }

  #fail(worker: Worker): void {
    if (worker !== this.#worker || this.#state === 'stopped') return;
    // Gone for good: the automatic checkpoint stays on for the rest of this connection.
    this.#worker = undefined;
    this.#state = 'stopped';
    this.#setAutomatic(true);
  }

  #setAutomatic(on: boolean): void {
    if (on === this.#automatic || !this.#db.isOpen) return;
    this.#db.exec(`pragma wal_autocheckpoint = ${on ? AUTOCHECKPOINT_PAGES : 0}`);
    this.#automatic = on;
  }
}
