/**
 * The audit writer: accepts drafts, makes them durable at once (spool), and appends them
 * to the hash chain in the store by group commit.
 *
 *   append(draft)  → spool line written (sync) → memory queue   [the acknowledgement]
 *   appendAccess(record, hold) → spool line taken → memory queue; once per event-loop turn
 *       one write(2) of the turn's lines, then the held responses go out [the acknowledgement]
 *   every batchMaxDelayMs or batchMaxEvents → one transaction (chain-batch.ts), on a thread of
 *       its own when `commitThread` is given (commit-thread.ts):
 *       lock chain head → skip already-stored event ids → assign seq + prevHash + hash
 *       → insert → move head                              [no gap, no fork on failure]
 *   → spool segment released → checkpoint signed when due (writer-checkpoints.ts)
 *   → every ACTOR_INDEX_EVERY records: the actor index filled in bulk by the committer, on the
 *     commit thread when there is one (chain-indexers.ts, actor-index.ts)
 *
 * While the store fails, batches are retried with backoff and the spool keeps every
 * event (beyond `maxQueued` they live only there and are read back when the queue drains).
 */
import { toGatehouseError } from '../core/errors.ts';
import { createAuditRepo } from '../store/repos/audit-repo.ts';
import { canonicalDraftJson } from './hash.ts';
import type { AuditCheckpoint, AuditDraft, ChainHead } from './record.ts';
import type { AccessRecord } from './access-event.ts';
import { storableDraft } from './storable.ts';
import { Spool, type SegmentRef } from './spool.ts';
import { inlineCommitter, type BatchCommitter } from './batch-committer.ts';
import type { AppendedBatch, BatchDraft } from './chain-batch.ts';
import { commitThreadFor } from './commit-thread.ts';
import { WriterCheckpoints } from './writer-checkpoints.ts';
import type { AuditWriterOptions, AuditWriterStats, Holdable } from './writer-types.ts';

export type { AuditWriterOptions, AuditWriterStats, Holdable } from './writer-types.ts';

/**
 * A draft waiting for its batch, with the spool segment it lives in. `canonical` is its
 * canonical JSON, already written as its spool line, for the hash at commit; kept only while
 * the queue is short (a long queue during a store outage would hold every draft's text twice),
 * and computed again at commit when absent. With a commit thread a draft that has that text
 * keeps only the text, at any queue length (see appendAccess and #accept).
 */
type Queued = BatchDraft & { ref: SegmentRef };

/** The segment of a draft the spool could not take: held in memory only, nothing to release. */
const MEMORY_ONLY: SegmentRef = { id: -1 };

const MAX_BACKOFF_MS = 5_000;

/** Queued drafts keep their serialized text while fewer than this many batches wait. */
const KEEP_TEXT_BATCHES = 4;

interface Waiter { target: number; resolve: () => void }

export class AuditWriter {
  readonly chain: string;
  readonly #o: Required<Pick<AuditWriterOptions, 'fsync' | 'batchMaxEvents' | 'batchMaxDelayMs' | 'maxQueued' | 'checkpointEveryRecords' | 'checkpointEveryMs'>> & AuditWriterOptions;
  readonly #spool: Spool;
  #queue: Queued[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** Delay the armed `#timer` was set with. */
  #timerDelay = 0;
  /** A batch due now starts at the end of this turn (see #schedule). */
  #immediate: NodeJS.Immediate | undefined;
  #checkpointTimer: NodeJS.Timeout | undefined;
  /** The last batch's whole run, chained after the runs before it: close() waits for it. */
  #running: Promise<void> | undefined;
  /** Batches handed to the committer whose outcome is not yet booked (at most 2, see #schedule). */
  #committing = 0;
  /** Queued drafts those batches hold: the first `#inFlightEvents` of `#queue`. */
  #inFlightEvents = 0;
  /** Settles when the last batch handed in has been booked: the next one books after it, in order. */
  #booked: Promise<void> | undefined;
  /** Whether the last booked batch failed: then the batch behind it was never sent (chain-pipeline.ts). */
  #lastFailed = false;
  #backoffMs = 0;
  #closed = false;
  #waiters: Waiter[] = [];
  #halted = false;
  #lastHead: ChainHead | undefined;
  readonly #stats: AuditWriterStats = { appended: 0, committed: 0, duplicatesSkipped: 0, batches: 0, failedBatches: 0, queued: 0, spilling: false, checkpoints: 0, failingSince: undefined, spoolFailingSince: undefined };
  /** Count of drafts ever taken out of the queue as committed or skipped (flush() targets). */
  #done = 0;
  #accepted = 0;
  /** Responses held until this turn's grouped spool write (see {@link Holdable}). */
  #held: Holdable[] = [];
  #groupArmed = false;
  readonly #checkpoints: WriterCheckpoints;
  readonly #committer: BatchCommitter;
  /** Batches go to a commit thread: a queued access record keeps its text only. */
  readonly #textOnly: boolean;

  private constructor(options: AuditWriterOptions, spool: Spool) {
    this.chain = options.chain ?? 'main';
    this.#o = {
      fsync: true, batchMaxEvents: 1000, batchMaxDelayMs: 25, maxQueued: 200_000, checkpointEveryRecords: 10_000, checkpointEveryMs: 60_000,
      ...options,
    };
    this.#spool = spool;
    const index = { ...(options.logger ? { logger: options.logger } : {}), ...(options.actorIndexEvery ? { every: options.actorIndexEvery } : {}) };
    const thread = options.commitThread ? commitThreadFor(options.store.connectionSpec(), index) : undefined;
    this.#committer = thread ?? inlineCommitter(options.store, index);
    this.#textOnly = thread !== undefined;
    this.#checkpoints = new WriterCheckpoints({
      store: options.store, signingKey: options.signingKey, instance: options.instance, bus: options.bus, logger: options.logger,
      everyRecords: this.#o.checkpointEveryRecords, everyMs: this.#o.checkpointEveryMs, stats: this.#stats,
    });
  }

  /** Opens the spool and queues whatever an earlier process left in it. */
  static open(options: AuditWriterOptions): AuditWriter {
    const { spool, recovered, unreadable, refused, warnings } = Spool.open(options.spoolDir, {
      ...(options.maxSegmentBytes ? { maxSegmentBytes: options.maxSegmentBytes } : {}), ...(options.mode ? { mode: options.mode } : {}),
    });
    const writer = new AuditWriter(options, spool);
    for (const w of warnings) options.logger?.warn({ spoolDir: options.spoolDir }, w);
    if (recovered.length) options.logger?.info({ events: recovered.length }, 'audit: replaying events left in the spool');
    // A torn last line is a draft never acknowledged; more than one such line a segment means drafts damaged on disk.
    if (unreadable) options.logger?.warn({ lines: unreadable, spoolDir: options.spoolDir }, 'audit: spool lines that are not a whole draft were skipped (a write torn by a crash, or damage on disk)');
    if (refused.length) options.logger?.error({ files: refused, spoolDir: options.spoolDir }, 'audit: files in the spool that the writer did not make were not replayed (left in place): someone who can write to the spool directory planted them');
    // Spools written before drafts were made storable may hold a NUL or a lone surrogate.
    for (const r of recovered) writer.#enqueue({ draft: storableDraft(r.draft), canonical: undefined, ref: r.ref, mayDuplicate: true });
    if (writer.#checkpoints.enabled) {
      writer.#checkpointTimer = setInterval(() => { void writer.#checkpoints.ifDue(writer.#lastHead, true); }, Math.min(writer.#o.checkpointEveryMs, 60_000));
      writer.#checkpointTimer.unref();
    }
    writer.#schedule();
    return writer;
  }

  /**
   * Accepts a draft. When this returns, the draft is in the spool (written to the OS):
   * a killed process will write it at its next start. Never throws for a full queue.
   * `mayDuplicate`: the same event id may already be stored (bus redelivery).
   *
   * When the spool cannot be written (disk full, directory unwritable), a draft delivered by
   * the bus (`mayDuplicate`) makes this throw, so that the bus delivers it again; any other
   * draft — an answered request has nobody to deliver it again — is kept in memory and
   * written to the store all the same, and `stats().spoolFailingSince` is set.
   */
  append(input: AuditDraft, mayDuplicate = false): void {
    if (this.#closed) throw toGatehouseError(new Error('audit writer is closed'));
    const draft = storableDraft(input);
    // Serialized once: the same text is the spool line and, at commit, the body of the hash input.
    this.#accept(draft, canonicalDraftJson(draft), mayDuplicate);
  }

  /**
   * {@link append} of an access record built with its canonical text (access-event.ts): when
   * `canonical` is given it is `canonicalDraftJson(draft)` of a storable draft, so neither
   * is computed again here.
   */
  appendAccess(record: AccessRecord, hold?: Holdable): void {
    if (record.canonical === undefined) {
      this.append(record.draft);
      return;
    }
    if (this.#closed) throw toGatehouseError(new Error('audit writer is closed'));
    // Grouped with the turn's other access records into one write(2) (src/audit/spool.ts),
    // while the spool is healthy and the drafts are also held in memory; `hold` waits for it.
    if (hold !== undefined && !this.#spool.spilling && this.#stats.spoolFailingSince === undefined && this.#queue.length < this.#o.maxQueued) {
      this.#stats.appended += 1;
      const ref = this.#spool.appendGrouped(record.canonical);
      hold.cork();
      this.#held.push(hold);
      if (!this.#groupArmed) {
        this.#groupArmed = true;
        setImmediate(this.#writeGroup);
      }
      if (this.#textOnly) {
        // Only the text (one flat string, see access-event.ts), however long the queue (it is
        // smaller than the draft): the record's objects would otherwise live until the thread
        // answers, long enough (a busy core, a slow database) to be promoted to the old
        // generation, which made every scavenge ~5× slower.
        this.#enqueue({ draft: undefined, canonical: record.canonical, ref, mayDuplicate: false });
      } else if (this.#queue.length >= KEEP_TEXT_BATCHES * this.#o.batchMaxEvents) this.#enqueue({ draft: record.draft, canonical: undefined, ref, mayDuplicate: false });
      else this.#enqueue({ draft: record.draft, canonical: record.canonical, ref, mayDuplicate: false });
      return;
    }
    this.#accept(record.draft, record.canonical, false);
  }

  /**
   * The grouped spool write of this turn's access records, then the responses that waited for
   * it. Also called before anything that needs those lines on disk or in their segment (a
   * batch's fdatasync, spilling, close). A failure leaves those drafts in memory only, as a
   * failed append does; the responses go out regardless (their requests are done).
   */
  #writeGroup = (): void => {
    this.#groupArmed = false;
    try {
      this.#spool.writeGrouped();
    } catch (err) {
      this.#spoolFailed(err);
    } finally {
      const held = this.#held;
      if (held.length > 0) {
        this.#held = [];
        for (const h of held) {
          try {
            h.uncork();
          } catch (err) {
            // One response that cannot be finished (its socket gone) must not hold up the others.
            this.#o.logger?.warn({ err }, 'audit: a held response could not be released');
          }
        }
      }
    }
  };

  #spoolFailed(err: unknown): void {
    if (this.#stats.spoolFailingSince === undefined) {
      this.#stats.spoolFailingSince = Date.now();
      this.#o.logger?.error({ err }, 'audit: cannot write to the spool; events are held in memory only until it is writable again');
    }
  }

  #accept(draft: AuditDraft, canonical: string | undefined, mayDuplicate: boolean): void {
    this.#stats.appended += 1;
    if (!this.#spool.spilling && this.#queue.length >= this.#o.maxQueued) {
      this.#o.logger?.warn({ queued: this.#queue.length }, 'audit: queue full; further events wait in the spool only');
      this.#writeGroup();
      this.#spool.startSpill();
    }
    let ref: SegmentRef;
    try {
      ref = this.#spool.append(canonical ?? JSON.stringify(draft));
      if (this.#stats.spoolFailingSince !== undefined) {
        this.#stats.spoolFailingSince = undefined;
        this.#o.logger?.info('audit: spool writable again');
      }
    } catch (err) {
      this.#spoolFailed(err);
      if (mayDuplicate) throw err;
      ref = MEMORY_ONLY;
    }
    if (this.#spool.spilling && ref !== MEMORY_ONLY) {
      this.#accepted += 1;
      return;
    }
    if (this.#textOnly && canonical !== undefined) {
      // As appendAccess does: the text alone, at any queue length. Keeping the draft past the
      // text-keeping bound cost its canonical JSON a second time on this thread (~4 µs an append in
      // a profile at 45,000 a second) and a clone of its object, where the text is one flat string.
      this.#enqueue({ draft: undefined, canonical, ref, mayDuplicate });
      return;
    }
    this.#enqueue({ draft, canonical: this.#queue.length < KEEP_TEXT_BATCHES * this.#o.batchMaxEvents ? canonical : undefined, ref, mayDuplicate });
  }

  #enqueue(item: Queued): void {
    this.#queue.push(item);
    this.#accepted += 1;
    this.#schedule();
  }

  /** Resolves when every draft accepted before the call is committed (or skipped as a duplicate). */
  flush(): Promise<void> {
    const target = this.#accepted;
    if (this.#done >= target) return Promise.resolve();
    this.#schedule(true);
    return new Promise((resolve) => this.#waiters.push({ target, resolve }));
  }

  stats(): AuditWriterStats {
    return { ...this.#stats, queued: this.#queue.length, spilling: this.#spool.spilling };
  }

  /**
   * Arms the next batch. One batch at a time, except that on a committer that links a batch
   * while the one before it is in flight (PostgreSQL, chain-pipeline.ts) a second may be handed in
   * behind the first, so that it is ready the moment the first is stored. Not behind a retry.
   */
  #schedule(now = false): void {
    if (this.#halted) return;
    const waiting = this.#queue.length - this.#inFlightEvents;
    if (waiting <= 0) return;
    if (!this.#mayHandIn()) return;
    const delay = this.#backoffMs > 0 ? this.#backoffMs : now || waiting >= this.#o.batchMaxEvents ? 0 : this.#o.batchMaxDelayMs;
    // Armed for the end of this turn: nothing fires sooner.
    if (this.#immediate) return;
    if (delay === 0) {
      // Not setTimeout(…, 0): Node makes that at least 1 ms, paid once per batch by a busy
      // writer (a batch of 1,000 took ~20 ms on PostgreSQL, so ~5 % of its throughput).
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#immediate = setImmediate(this.#start);
      return;
    }
    // A timer armed with no longer a delay fires no later: keep it. Re-arming on every append
    // once the queue is full cost a clearTimeout + setTimeout per event, and during a store
    // outage it kept pushing the retry back by the whole backoff.
    if (this.#timer && this.#timerDelay <= delay) return;
    clearTimeout(this.#timer);
    this.#timerDelay = delay;
    this.#timer = setTimeout(this.#start, delay);
  }

  /** Nothing is in flight, or one batch is and the next may follow it (pipelined, not behind a retry). */
  #mayHandIn(): boolean {
    return this.#running === undefined || (this.#committing === 1 && this.#committer.pipelined && this.#backoffMs === 0);
  }

  #start = (): void => {
    this.#timer = undefined;
    this.#immediate = undefined;
    // The state may have changed since it was armed (a batch booked, a failure's backoff set).
    if (this.#halted) return;
    if (!this.#mayHandIn()) return;
    const batch = this.#queue.slice(this.#inFlightEvents, this.#inFlightEvents + this.#o.batchMaxEvents);
    if (batch.length === 0) return;
    const afterPrevious = this.#committing > 0;
    this.#committing += 1;
    this.#inFlightEvents += batch.length;
    const before = this.#booked;
    const booked = Promise.withResolvers<void>();
    this.#booked = booked.promise;
    const previousRun = this.#running;
    const run: Promise<void> = this.#runBatch(batch, afterPrevious, before, booked.resolve)
      .then(() => previousRun)
      .finally(() => {
        if (this.#running === run) this.#running = undefined;
        this.#schedule();
      });
    this.#running = run;
    // What is queued behind it may go now too (pipelined), or arms its timer.
    this.#schedule();
  };

  /**
   * Commits `batch`, the next `batch.length` drafts of the queue after those in flight before it
   * (`afterPrevious`: handed to the committer behind them), then books its outcome once the batch
   * before it is booked (`before`), and calls `booked` when it has. Never rejects.
   */
  async #runBatch(batch: Queued[], afterPrevious: boolean, before: Promise<void> | undefined, booked: () => void): Promise<void> {
    let appended: AppendedBatch | undefined;
    let failure: unknown;
    try {
      // The turn's grouped lines first, so that the fdatasync covers them too.
      if (this.#spool.groupedLines > 0) this.#writeGroup();
      // The fdatasync runs beside the commit, not before it: once both are done everything in the
      // spool is on disk and the batch is in the store, as before, and the batch no longer waits
      // for the disk first (~1.5 of ~20 ms a batch on PostgreSQL). A failed fdatasync does not undo
      // a commit: it is reported as a spool failure (the events behind the batch may not survive
      // a power cut), and a failed commit is retried as before.
      const synced = this.#o.fsync ? this.#spool.sync().then(() => undefined, (err: unknown) => err ?? new Error('fdatasync failed')) : undefined;
      try {
        appended = await this.#committer.commit(this.chain, batch, this.#lastHead, afterPrevious);
      } catch (err) {
        failure = err;
      }
      const syncError = await synced;
      if (syncError !== undefined) this.#spoolFailed(syncError);
    } catch (err) {
      failure ??= err;
    }
    await before;
    this.#committing -= 1;
    this.#inFlightEvents -= batch.length;
    if (appended === undefined) {
      // Behind a batch that failed, this one was never sent: that failure is already reported.
      const notSent = afterPrevious && this.#lastFailed;
      this.#lastFailed = true;
      booked();
      if (!notSent) this.#failed(batch, failure);
      return;
    }
    this.#lastFailed = false;
    try {
      const { head, committed, skipped, overwritten } = appended;
      this.#queue.splice(0, batch.length);
      this.#done += batch.length;
      try {
        for (const q of batch) this.#spool.committed(q.ref);
      } catch (err) {
        // The spool could not start its next segment (EMFILE, ENOSPC): the batch is committed all
        // the same, and the spool goes on in its current one. Before, this left `#done` short and
        // every flush() waiting forever.
        this.#spoolFailed(err);
      }
      this.#stats.committed += committed;
      this.#stats.duplicatesSkipped += skipped;
      this.#stats.batches += 1;
      if (this.#stats.failingSince !== undefined) {
        this.#o.logger?.info({ queued: this.#queue.length }, 'audit: store reachable again; writing queued events');
        this.#stats.failingSince = undefined;
      }
      this.#backoffMs = 0;
      this.#lastHead = head;
      this.#checkpoints.recorded(committed);
      booked();
      this.#wakeWaiters();
      if (overwritten) await this.#checkpoints.signOverwritten(overwritten, head);
      if (this.#queue.length === 0 && this.#spool.spilling) {
        this.#writeGroup();
        const spilled = this.#spool.takeSpilled();
        for (const r of spilled) this.#queue.push({ draft: r.draft, canonical: undefined, ref: r.ref, mayDuplicate: true });
      }
      await this.#checkpoints.ifDue(this.#lastHead, false);
    } catch (err) {
      // After the commit: a checkpoint that could not be signed.
      this.#failed(batch, err);
    } finally {
      // Whatever happened, the batch behind this one must not wait for it forever (a second call is a no-op).
      booked();
    }
  }

  /** A batch (or what follows its commit: a checkpoint) failed: retried after a backoff. */
  #failed(batch: readonly Queued[], err: unknown): void {
    this.#stats.failedBatches += 1;
    // A unique violation means some event of the batch is already stored (e.g. written
    // by an instance that died before releasing its spool): check every id next time.
    if (toGatehouseError(err).code === 'ERR_STORE_CONFLICT') for (const q of batch) q.mayDuplicate = true;
    if (this.#halted) {
      // close() ran out of time and abandoned it (a commit thread terminated): nothing is retried,
      // and "cannot write to the store" would send an operator after a store that may be fine.
      this.#o.logger?.warn({ events: batch.length }, 'audit: the batch under way was abandoned at shutdown; its events stay in the spool for the next start');
    } else if (this.#stats.failingSince === undefined) {
      this.#stats.failingSince = Date.now();
      this.#o.logger?.error({ err: toGatehouseError(err), queued: this.#queue.length }, 'audit: cannot write to the store; events are kept in the spool and retried');
    }
    this.#backoffMs = Math.min(MAX_BACKOFF_MS, this.#backoffMs ? this.#backoffMs * 2 : 50);
  }

  #wakeWaiters(): void {
    if (!this.#waiters.length) return;
    const still: Waiter[] = [];
    for (const w of this.#waiters) (this.#done >= w.target ? w.resolve() : still.push(w));
    this.#waiters = still;
  }

  /** Signs a checkpoint at the chain head this writer last wrote (or read). */
  async checkpointNow(): Promise<AuditCheckpoint | undefined> {
    await this.flush();
    const head = this.#lastHead ?? await createAuditRepo(this.#o.store.db, this.#o.store.dialect).head(this.chain);
    if (!head || head.seq === 0 || !this.#checkpoints.enabled) return undefined;
    return this.#checkpoints.at(head);
  }

  /**
   * Writes what is queued (waiting at most `timeoutMs`), signs a checkpoint at the last record
   * written if any was written since the last checkpoint, then closes the spool. Whatever could
   * not be written stays in the spool for the next start.
   *
   * The final checkpoint: without it the records of the last minutes before a clean shutdown
   * stayed unsigned, and cutting them off together with the head row left nothing for
   * `audit verify` to notice.
   */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.#closed) return;
    const deadline = Date.now() + timeoutMs;
    const flushed = this.flush();
    this.#closed = true;
    clearInterval(this.#checkpointTimer);
    let timer: NodeJS.Timeout | undefined;
    const timeLeft = () => new Promise<void>((r) => { timer = setTimeout(r, Math.max(0, deadline - Date.now())); });
    await Promise.race([flushed, timeLeft()]);
    clearTimeout(timer);
    this.#halted = true;
    clearTimeout(this.#timer);
    clearImmediate(this.#immediate);
    // A batch still under way at the deadline: a commit thread abandons it (its events stay in
    // the spool; the next start writes them, skipping any the batch did store), inline it can
    // only be waited for. Waiting on a commit thread held a shutdown for the statement timeout.
    const running = this.#running;
    let finished = running === undefined;
    if (running) await Promise.race([running.then(() => { finished = true; }), timeLeft()]);
    clearTimeout(timer);
    // The committer's close with no time left: a thread is terminated, abandoning the batch.
    if (!finished) await this.#committer.close(0);
    await running;
    const head = this.#lastHead;
    if (this.#checkpoints.owed(head)) {
      // Bounded like the flush: a store that stopped answering must not hold the shutdown.
      // Each race's timer is cleared before the next: a pending one would hold the process up to the deadline.
      await Promise.race([this.#checkpoints.at(head), timeLeft()]);
      clearTimeout(timer);
    }
    // The actor index caught up, so a restart starts with an empty tail; with what time is left
    // (the committer runs it: on the commit thread when there is one).
    await this.#committer.close(Math.max(0, deadline - Date.now()));
    this.#writeGroup();
    this.#spool.close();
    if (this.#queue.length) this.#o.logger?.warn({ events: this.#queue.length }, 'audit: events left in the spool for the next start');
  }
}
