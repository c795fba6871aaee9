/**
 * Coarse deadlines for the upstreams' total timeouts: one shared interval checks a dense
 * list, instead of one Node timer per request (a Timeout object, a timer-list insert and
 * a removal per request, about a microsecond). Adding and removing is a push and a swap.
 *
 * Granularity: a deadline fires at the first tick at or after it, so never early and late
 * by at most {@link DEADLINE_TICK_MS} (plus whatever delays the event loop). The total
 * timeout is a ceiling of seconds to minutes; the precise per-phase timeouts (connect,
 * headers, idle body) stay with undici. The interval runs only while deadlines are
 * pending and never keeps the process alive.
 */

/** How often pending deadlines are checked, in milliseconds. */
export const DEADLINE_TICK_MS = 100;

/** Something with a deadline; the list owns the two deadline fields. */
export interface DeadlineEntry {
  /** performance.now() at which `onDeadline` is due. */
  deadlineAt: number;
  /** Index in the list, -1 when not listed (-2 while due in the running tick). Start it at -1. */
  deadlineSlot: number;
  onDeadline(): void;
}

export class DeadlineList {
  readonly #tickMs: number;
  readonly #entries: DeadlineEntry[] = [];
  #timer: NodeJS.Timeout | undefined = undefined;

  constructor(tickMs = DEADLINE_TICK_MS) {
    this.#tickMs = tickMs;
  }

  /** Calls `entry.onDeadline()` once `ms` milliseconds have passed, unless removed first. */
  add(entry: DeadlineEntry, ms: number): void {
    if (entry.deadlineSlot !== -1) this.remove(entry);
    entry.deadlineAt = performance.now() + ms;
    entry.deadlineSlot = this.#entries.length;
    this.#entries.push(entry);
    if (this.#timer === undefined) {
      this.#timer = setInterval(this.#tick, this.#tickMs);
      this.#timer.unref();
    }
  }

  /** Forgets the entry's deadline; harmless when it has none. */
  remove(entry: DeadlineEntry): void {
    const slot = entry.deadlineSlot;
    if (slot < 0) { entry.deadlineSlot = -1; return; }
    const entries = this.#entries;
    const last = entries.pop()!;
    if (last !== entry) {
      entries[slot] = last;
      last.deadlineSlot = slot;
    }
    entry.deadlineSlot = -1;
  }

  /** Deadlines pending. */
  get size(): number {
    return this.#entries.length;
  }

  #tick = (): void => {
    const entries = this.#entries;
    if (entries.length === 0) {
      // Idle: stop waking up; the next add starts the interval again.
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const now = performance.now();
    let due: DeadlineEntry[] | undefined;
    for (let i = 0; i < entries.length;) {
      const entry = entries[i]!;
      if (entry.deadlineAt <= now) {
        this.remove(entry); // the last entry moves into slot i, so i is checked again
        entry.deadlineSlot = -2;
        (due ??= []).push(entry);
      } else {
        i++;
      }
    }
    // Called after the scan: a callback that adds or removes entries cannot disturb it. An
    // entry removed (or added again) by an earlier callback in this tick is skipped.
    if (due === undefined) return;
    for (const entry of due) {
      if (entry.deadlineSlot !== -2) continue;
      entry.deadlineSlot = -1;
      entry.onDeadline();
    }
  };
}

/** The upstream exchanges' total timeouts (one list per process). */
export const upstreamDeadlines = new DeadlineList();
