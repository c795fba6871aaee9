/**
 * Fills `audit_actor_index` behind a chain, in bulk (migration 0011 says why).
 *
 * After each committed batch the writer reports the chain's head. Once `every` records have
 * accumulated past the chain's mark, one run reads them (actor, time, seq only; pages of
 * {@link READ_PAGE} by primary key), groups them by actor, and inserts the entries in actor
 * order, {@link INSERT_CHUNK} per transaction; the last transaction moves the mark. Grouped,
 * each actor's entries of the run land on the same few index pages, where one insert per
 * record had dirtied a page per record. Every step is short and yields to the event loop
 * (on SQLite they run on the main thread), so no request waits for a whole run.
 *
 * A run that stops half way (crash, store down, shutdown) leaves entries past the mark; queries
 * ignore those (the tail scan covers them) and the next run inserts them again as no-ops. Several
 * writers of one chain may run at once: entries are idempotent and the mark only moves forward.
 */
import type { Logger } from 'pino';
import { toGatehouseError } from '../core/errors.ts';
import { GENESIS_HASH } from './hash.ts';
import { createAuditRepo, type ActorEntry } from '../store/repos/audit-repo.ts';
import type { Store } from '../store/types.ts';

/** Records past the mark that start a run. Also bounds the tail a query scans by primary key. */
export const ACTOR_INDEX_EVERY = 50_000;
/** Most records one run takes (a long tail, e.g. after a store outage, is done in several runs). */
const MAX_RUN = 2 * ACTOR_INDEX_EVERY;
const READ_PAGE = 5_000;
const INSERT_CHUNK = 2_048;

export interface ActorIndexerOptions {
  store: Store;
  chain: string;
  logger?: Logger;
  /** Records past the mark that start a run (tests make it small). */
  every?: number;
  /** Tests: awaited after a run has read its records and before it inserts their entries. */
  afterRead?: () => Promise<void>;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class ActorIndexer {
  readonly #o: ActorIndexerOptions;
  readonly #every: number;
  /** The chain's mark as last read or written; undefined until read (and after a failure). */
  #mark: number | undefined;
  #running: Promise<void> | undefined;
  /** The highest head noted while a run was under way. */
  #noted: number | undefined;
  #stopped = false;

  constructor(options: ActorIndexerOptions) {
    this.#o = options;
    this.#every = options.every ?? ACTOR_INDEX_EVERY;
  }

  /**
   * The chain now ends at `headSeq` (committed): starts a run when enough is behind. A head
   * noted while a run is under way is looked at again when it ends: otherwise commits that
   * came during the run waited for the next commit (a quiet chain's for its close).
   */
  note(headSeq: number): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#noted = Math.max(this.#noted ?? 0, headSeq);
      return;
    }
    if (this.#mark !== undefined && headSeq - this.#mark < this.#every) return;
    this.#running = this.#run(headSeq, false).finally(() => {
      this.#running = undefined;
      const noted = this.#noted;
      this.#noted = undefined;
      if (noted !== undefined && noted > headSeq) this.note(noted);
    });
  }

  /** Indexes everything up to `headSeq` (a clean shutdown leaves no tail), unless stopped. */
  async drain(headSeq: number): Promise<void> {
    // A run that ends may start the next one for a head noted meanwhile: wait for those too.
    while (this.#running) await this.#running;
    while (!this.#stopped && (this.#mark === undefined || this.#mark < headSeq)) {
      const before = this.#mark;
      await this.#run(headSeq, true);
      if (this.#mark === undefined || this.#mark === before) return;
    }
  }

  /** No new step starts after this; a step under way finishes. */
  async stop(): Promise<void> {
    this.#stopped = true;
    while (this.#running) await this.#running;
  }

  async #run(headSeq: number, force: boolean): Promise<void> {
    const { store, chain } = this.#o;
    try {
      const repo = createAuditRepo(store.db, store.dialect);
      const mark = await repo.actorIndexedSeq(chain);
      this.#mark = mark;
      if (headSeq <= mark || (!force && headSeq - mark < this.#every)) return;
      const through = Math.min(headSeq, mark + MAX_RUN);
      const byActor = new Map<string, ActorEntry[]>();
      for (let after = mark; ;) {
        if (this.#stopped) return;
        const page = await repo.actorWindow(chain, after, through, READ_PAGE);
        for (const e of page) {
          const list = byActor.get(e.actor);
          if (list) list.push(e);
          else byActor.set(e.actor, [e]);
        }
        await turn();
        if (page.length < READ_PAGE) break;
        after = page[page.length - 1]!.seq;
      }
      const entries: ActorEntry[] = [];
      for (const actor of [...byActor.keys()].sort()) for (const e of byActor.get(actor)!) entries.push(e);
      await this.#o.afterRead?.();
      for (let i = 0; ; i += INSERT_CHUNK) {
        if (this.#stopped) return;
        const chunk = entries.slice(i, i + INSERT_CHUNK);
        const last = i + INSERT_CHUNK >= entries.length;
        await store.transaction(async (trx) => {
          const t = createAuditRepo(trx, store.dialect);
          if (chunk.length) {
            await t.insertActorEntries(chain, chunk);
            // Retention may have cut records since they were read: entries of deleted records would
            // keep their actors past retention for good (a cut finds entries only through the records
            // it deletes). The cut holds the chain head for its whole transaction, so under the head
            // the chain's first record is final, and entries below it are taken out again; a cut
            // after this commit finds these entries through their records. The head is taken last,
            // and so held only for that check: held over the insert, it stalled the chain's appends
            // on PostgreSQL for each chunk.
            await t.lockHead(chain, GENESIS_HASH);
            const first = (await t.firstSeq(chain)) ?? Number.POSITIVE_INFINITY;
            const cut = chunk.filter((e) => e.seq < first);
            if (cut.length) await t.deleteActorEntries(chain, cut);
          }
          if (last) await t.advanceActorIndex(chain, through);
        });
        if (last) break;
        await turn();
      }
      this.#mark = through;
    } catch (err) {
      // Nothing is lost: the records stay in the tail, which queries scan, and a later run retries.
      this.#mark = undefined;
      this.#o.logger?.warn({ err: toGatehouseError(err), chain }, 'audit: the actor index could not be brought up to date; queries by actor scan the records past it');
    }
  }
}
