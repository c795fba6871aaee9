/**
 * `audit verify`'s check of the actor index against the records, done alongside the walk of
 * the chain instead of in SQL afterwards, where the store can hand over the entries
 * (SQLite, src/store/repos/audit-actor-scan.ts).
 *
 * The SQL form (audit-repo.ts `actorIndexProblem`) looks up every record's entry by primary
 * key and every entry's record by (chain, seq): two random lookups per record, each reading
 * the record's whole row again — about 2.6–3.7 s of a 7–8 s verify of 1,000,000 records on
 * SQLite. The walk has just read (and vouched for) every record's actor and time, so here
 * they are kept in arrays by seq, a window at a time, and the window's entries are read in
 * one pass and compared: a few hundred milliseconds.
 *
 * This check only ever says "the index matches"; at any doubt — an entry or record that
 * differs, text that reads as U+FFFD (two different stored byte strings read the same and SQL
 * compares bytes), the mark moved while the walk ran — `clean()` is false and the verifier
 * asks the SQL form, which finds and names the problem (one snapshot) exactly as before.
 */
import type { Store } from '../store/types.ts';
import type { AuditRepo } from '../store/repos/audit-repo.ts';
import { forEachActorEntry } from '../store/repos/audit-actor-scan.ts';

/** Records per window: its arrays take 13 bytes a record (26 MiB), and each window reads the index table once. */
const WINDOW = 1 << 21;
const NO_ACTOR = -1;

export class ActorIndexCheck {
  readonly #store: Store;
  readonly #repo: AuditRepo;
  readonly #chain: string;
  /** The mark (and head seq) read at the start; records above the mark need no entry yet. */
  readonly #mark: number;
  readonly #headSeq: number | undefined;
  readonly #window: number;
  #actors = new Map<string, number>();
  #ids = new Int32Array(0);
  #times = new Float64Array(0);
  #seen = new Uint8Array(0);
  #lo = 0;
  #count = 0;
  #doubt = false;

  private constructor(store: Store, repo: AuditRepo, chain: string, mark: number, headSeq: number | undefined, window: number) {
    this.#store = store;
    this.#repo = repo;
    this.#chain = chain;
    this.#mark = mark;
    this.#headSeq = headSeq;
    this.#window = window;
  }

  /** A check for this chain, or undefined where the store cannot hand over the entries (the SQL form then). */
  static async start(store: Store, repo: AuditRepo, chain: string, window = WINDOW): Promise<ActorIndexCheck | undefined> {
    if (store.dialect !== 'sqlite') return undefined;
    const head = await repo.actorIndexHead(chain);
    // A chain without a head row is read from the index alone by query(), as if indexed to the end.
    return new ActorIndexCheck(store, repo, chain, head ? head.mark : Number.MAX_SAFE_INTEGER, head?.seq, window);
  }

  /**
   * One walked record (seqs dense and ascending: the walk stops at a gap). True when the window
   * is full: the caller then awaits `compareWindow()` (no promise per record in the walk's loop).
   */
  add(seq: number, actor: string | null, time: number): boolean {
    if (this.#doubt || seq > this.#mark) return false;
    if (this.#count === 0) {
      this.#lo = seq;
      const size = Math.min(this.#window, Math.max(1, this.#mark - seq + 1));
      if (this.#ids.length < size) {
        this.#ids = new Int32Array(size);
        this.#times = new Float64Array(size);
        this.#seen = new Uint8Array(size);
      }
    }
    let id = NO_ACTOR;
    if (actor !== null) {
      if (actor.includes('\uFFFD')) { this.#doubt = true; return false; }
      id = this.#actors.get(actor) ?? NO_ACTOR;
      if (id === NO_ACTOR) { id = this.#actors.size; this.#actors.set(actor, id); }
    }
    this.#ids[this.#count] = id;
    this.#times[this.#count] = time;
    this.#count += 1;
    return this.#count === this.#ids.length;
  }

  /** True when every record up to the mark has its entry and every entry its record; false: ask the SQL form. */
  async clean(): Promise<boolean> {
    if (!this.#doubt && this.#count > 0) await this.compareWindow();
    if (this.#doubt) return false;
    const head = await this.#repo.actorIndexHead(this.#chain);
    // The mark moved (a live writer's index run) or went past the head: let the SQL form judge the chain as it now stands.
    if (head === undefined ? this.#headSeq !== undefined : head.mark !== this.#mark || head.mark > head.seq) return false;
    return true;
  }

  /** Reads the window's entries and compares them with its records; then starts the next window. */
  async compareWindow(): Promise<void> {
    const lo = this.#lo;
    const n = this.#count;
    const ids = this.#ids;
    const times = this.#times;
    const seen = this.#seen.fill(0, 0, n);
    const actors = this.#actors;
    let doubt = false;
    const read = await forEachActorEntry(this.#store.db, this.#store.dialect, this.#chain, lo, lo + n - 1, ([actor, time, seq]) => {
      if (doubt) return;
      const at = typeof seq === 'number' ? seq - lo : -1;
      if (!(at >= 0 && at < n && Number.isInteger(at)) || typeof actor !== 'string' || typeof time !== 'number') { doubt = true; return; }
      const id = actors.get(actor);
      if (id === undefined || id !== ids[at] || time !== times[at] || seen[at] === 1) { doubt = true; return; }
      seen[at] = 1;
    });
    if (!read) doubt = true;
    for (let i = 0; i < n && !doubt; i++) if (ids[i] !== NO_ACTOR && seen[i] === 0) doubt = true;
    this.#doubt ||= doubt;
    this.#count = 0;
    // Ids are only compared within a window: a chain of many distinct actors does not grow the map without end.
    this.#actors = new Map();
  }
}
