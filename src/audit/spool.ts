/**
 * The write-ahead spool: an append-only file of audit drafts in the data directory.
 *
 * Every draft is written here (one JSON line, `write(2)` before `append` returns) before
 * it is queued for the store, so a killed process loses nothing the writer accepted: the
 * kernel keeps written data even when the process dies. `sync()` (fdatasync) before each
 * group commit extends that to power loss. While the store is unreachable the spool
 * simply grows; at start every segment left behind is read back and written.
 *
 * Segments: appends go to the current segment; a segment whose drafts are all committed
 * is deleted. The current segment is rotated at `maxSegmentBytes` (so one long outage does
 * not make one huge file), and also once everything in it is committed and it has grown
 * past `recycleBytes` — committed lines left in it until then are skipped as duplicates
 * if they are ever replayed.
 *
 * Access records of one event-loop turn can be grouped instead (appendGrouped, then one
 * writeGrouped for all of them): one write(2) for the turn instead of one per request, which
 * measured ~15 µs of the main thread's time per request here (the writer holds those requests'
 * responses until the write, so the acknowledgement still comes after the line is in the OS).
 *
 * Only the append is synchronous (it is the acknowledgement, and page-cache data survives a
 * killed process). Everything that waits on the disk — fdatasync, close, unlink — runs on
 * libuv's thread pool: a flush on a slow disk takes milliseconds, and on the main thread it
 * would stall every request in flight.
 */
import { close, closeSync, constants, fdatasync, fdatasyncSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, unlink, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GatehouseError } from '../core/errors.ts';
import { AUDIT_OUTCOMES, type AuditDraft } from './record.ts';
import { checkSpoolDirectory } from './spool-directory.ts';

/** Which segment a draft lives in, so its commit can be accounted. */
export interface SegmentRef {
  readonly id: number;
}

interface Segment extends SegmentRef {
  path: string;
  fd: number | undefined;
  pending: number;
  size: number;
  /** An fdatasync in flight on `fd`: the descriptor must not be closed before it settles. */
  syncing: Promise<void> | undefined;
  /** Drafts written here while the writer's memory queue was full: read back later. */
  spill: boolean;
  /** A short write (disk full) left part of a line: the next line must not be glued to it. */
  torn?: boolean;
}

export interface SpoolOptions {
  maxSegmentBytes?: number;
  /** A fully committed current segment larger than this is rotated out and deleted. Default 1 MiB. */
  recycleBytes?: number;
  /** Production refuses a group-writable directory (spool-directory.ts). Default: from NODE_ENV. */
  mode?: 'development' | 'production';
}

function fdatasyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

export interface RecoveredDraft {
  draft: AuditDraft;
  ref: SegmentRef;
}

const NAME = /^segment-(\d{16})\.jsonl$/;

/**
 * One spool directory, one writer: a second one would take the first one's segments for the
 * leftovers of a dead process, replay them and delete them while the first still appends
 * (test/audit/spool-shared.test.ts). The lock file holds the owner's pid; a pid that no
 * longer runs, or is this process's own from an earlier life (a container's pid 1), is stale.
 * Processes in different pid namespaces sharing one volume cannot see each other: give each
 * instance its own `audit.spoolDir`.
 */
const LOCK = 'spool.lock';
/** Spool directories open in this process (the pid in the lock cannot tell them apart). */
const openHere = new Set<string>();

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockSpool(dir: string): () => void {
  const key = resolve(dir);
  const inUse = (by: string) => new GatehouseError('ERR_AUDIT_UNAVAILABLE', { detail: `audit spool ${key} is in use by ${by}; give each instance its own audit.spoolDir` });
  if (openHere.has(key)) throw inUse('this process');
  const path = join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try { writeSync(fd, `${process.pid}\n`); } finally { closeSync(fd); }
      openHere.add(key);
      return () => {
        openHere.delete(key);
        try { unlinkSync(path); } catch { /* gone already: nothing to release */ }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let pid = Number.NaN;
    try { pid = Number(readFileSync(path, 'utf8').trim()); } catch { /* removed meanwhile: try again */ }
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && running(pid)) throw inUse(`process ${pid}`);
    try { unlinkSync(path); } catch { /* removed meanwhile */ }
  }
  throw inUse('another process');
}

/** A file named like a segment that the writer did not make, and why it was not replayed. */
export interface RefusedSegment {
  file: string;
  why: string;
}

export interface OpenedSpool {
  spool: Spool;
  recovered: RecoveredDraft[];
  /** Lines of the writer's own segments that are not a whole draft. */
  unreadable: number;
  refused: RefusedSegment[];
  /** Said at start: a directory allowed but unsafe (spool-directory.ts). */
  warnings: string[];
}

/**
 * A new segment: created here or not at all (O_EXCL, which also refuses a symbolic link,
 * dangling or not). Whoever can write to the directory could otherwise plant a link at the
 * name of a segment the writer creates later, and have it append audit records to any file
 * this user may write (the signing key, the store).
 */
const NEW_SEGMENT = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);
/** Reading a segment back: never through a link, and never blocking on a FIFO (fstat refuses it next). */
const READ_SEGMENT = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

export class Spool {
  readonly #dir: string;
  readonly #maxSegmentBytes: number;
  readonly #recycleBytes: number;
  readonly #segments = new Map<number, Segment>();
  #current!: Segment;
  #nextId: number;
  #unlock: () => void = () => undefined;
  /** Lines taken by appendGrouped, not yet written; all of them belong to #current. */
  #grouped: string[] = [];

  private constructor(dir: string, nextId: number, options: SpoolOptions) {
    this.#dir = dir;
    this.#nextId = nextId;
    this.#maxSegmentBytes = options.maxSegmentBytes ?? 16 * 1024 * 1024;
    this.#recycleBytes = options.recycleBytes ?? 1024 * 1024;
  }

  /**
   * Opens the spool directory (created 0700) and returns the drafts left by an earlier
   * process: they were never confirmed committed, and the caller writes them again
   * (skipping the ones the store already has). A torn last line is ignored.
   * Throws ERR_AUDIT_UNAVAILABLE when another running writer has the directory.
   */
  static open(dir: string, options: SpoolOptions = {}): OpenedSpool {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const warnings = checkSpoolDirectory(dir, options.mode ?? (process.env.NODE_ENV === 'production' ? 'production' : 'development'));
    const unlock = lockSpool(dir);
    try {
      return { ...Spool.#openLocked(dir, options, unlock), warnings };
    } catch (err) {
      unlock();
      throw err;
    }
  }

  static #openLocked(dir: string, options: SpoolOptions, unlock: () => void): Omit<OpenedSpool, 'warnings'> {
    const names = readdirSync(dir).filter((n) => NAME.test(n)).sort();
    const last = names.length ? Number(NAME.exec(names[names.length - 1]!)![1]) : 0;
    const spool = new Spool(dir, last + 1, options);
    spool.#unlock = unlock;
    const recovered: RecoveredDraft[] = [];
    const refused: RefusedSegment[] = [];
    let unreadable = 0;
    for (const name of names) {
      const id = Number(NAME.exec(name)![1]);
      const seg: Segment = { id, path: join(dir, name), fd: undefined, pending: 0, size: 0, spill: false, syncing: undefined };
      const read = readSegment(seg.path);
      // Not the writer's: left where it is (for whoever investigates), never replayed, never deleted.
      if (read.refused) {
        refused.push({ file: name, why: read.refused });
        continue;
      }
      spool.#segments.set(id, seg);
      unreadable += read.unreadable;
      for (const draft of read.drafts) {
        recovered.push({ draft, ref: seg });
        seg.pending += 1;
      }
      if (seg.pending === 0) spool.#remove(seg);
    }
    spool.#current = spool.#newSegment(false);
    return { spool, recovered, unreadable, refused };
  }

  /**
   * Writes one draft, given as its JSON text (the writer serializes it once for the spool and
   * the hash), synchronously to the OS and returns its segment.
   */
  append(draftJson: string): SegmentRef {
    const seg = this.#current;
    // Lines taken by appendGrouped go first, in the same write, so that the file keeps their order.
    const grouped = this.#takeGrouped();
    const line = seg.torn ? `\n${grouped}${draftJson}\n` : `${grouped}${draftJson}\n`;
    const written = writeSync(seg.fd!, line);
    seg.size += written;
    // A full disk (or a file size limit) first answers with a short write: that line is not
    // on disk, and it is torn, so it fails like the write that fails outright.
    // (Compared in bytes: a short write of a line with multi-byte characters can equal its length in code units.)
    if (written !== Buffer.byteLength(line)) {
      seg.torn = true;
      throw Object.assign(new Error(`spool write short by ${Buffer.byteLength(line) - written} bytes (disk full?)`), { code: 'ENOSPC' });
    }
    seg.torn = false;
    seg.pending += 1;
    if (seg.size >= this.#maxSegmentBytes) this.#rotate(seg.spill);
    return seg;
  }

  /**
   * Takes a draft's line for the current segment without writing it: the caller must call
   * {@link writeGrouped} before it acknowledges the draft (the writer does so once per
   * event-loop turn). Does no I/O and never throws. Until written, the draft is in memory only.
   */
  appendGrouped(draftJson: string): SegmentRef {
    const seg = this.#current;
    this.#grouped.push(`${draftJson}\n`);
    seg.pending += 1;
    return seg;
  }

  /** Lines taken by {@link appendGrouped} and not yet written (all belong to the current segment). */
  get groupedLines(): number {
    return this.#grouped.length;
  }

  /**
   * Writes every line {@link appendGrouped} took, in one `write(2)`. Throws as {@link append}
   * does (disk full, unwritable): those drafts are then in memory only, and the next line
   * written starts on a line of its own.
   */
  writeGrouped(): void {
    if (this.#grouped.length === 0) return;
    const seg = this.#current;
    const text = this.#takeGrouped();
    const line = seg.torn ? `\n${text}` : text;
    const bytes = Buffer.byteLength(line);
    const written = writeSync(seg.fd!, line);
    seg.size += written;
    if (written !== bytes) {
      seg.torn = true;
      throw Object.assign(new Error(`spool write short by ${bytes - written} bytes (disk full?)`), { code: 'ENOSPC' });
    }
    seg.torn = false;
    if (seg.size >= this.#maxSegmentBytes) this.#rotate(seg.spill);
  }

  #takeGrouped(): string {
    if (this.#grouped.length === 0) return '';
    const text = this.#grouped.join('');
    this.#grouped = [];
    return text;
  }

  /** Before the current segment changes or closes: its grouped lines go to it (a failure leaves them in memory only). */
  #writeGroupedOrLeave(): void {
    try {
      this.writeGrouped();
    } catch {
      // The writer holds these drafts in memory and reports spool failures on its own writes.
    }
  }

  /**
   * fdatasync of the current segment, off the main thread (earlier segments are synced
   * when rotated). Resolves once every line written before the call is on disk.
   */
  async sync(): Promise<void> {
    this.#writeGroupedOrLeave();
    const seg = this.#current;
    if (seg.fd === undefined || seg.size === 0) return;
    const run = (seg.syncing ?? Promise.resolve()).then(() => (seg.fd === undefined ? undefined : fdatasyncAsync(seg.fd)));
    const settled: Promise<void> = run.then(() => undefined, () => undefined);
    seg.syncing = settled;
    void settled.then(() => { if (seg.syncing === settled) seg.syncing = undefined; });
    await run;
  }

  /** Marks `count` drafts of a segment committed; a fully committed segment is dropped. */
  committed(ref: SegmentRef, count = 1): void {
    const seg = this.#segments.get(ref.id);
    if (!seg) return;
    seg.pending -= count;
    if (seg.pending > 0) return;
    if (seg !== this.#current) this.#remove(seg);
    // Everything in the current segment is committed: once it is big enough, start a new one
    // and drop this one (never truncate in place: a truncate racing an append loses the append).
    else if (seg.size >= this.#recycleBytes) this.#rotate(seg.spill);
  }

  /** From now on appends go to a spill segment (drafts not held in memory). */
  startSpill(): void {
    if (!this.#current.spill) this.#rotate(true);
  }

  /**
   * Ends spilling: returns the drafts of every spill segment so the caller can queue
   * them. Their segments stay until those drafts are committed.
   */
  takeSpilled(): RecoveredDraft[] {
    if (this.#current.spill) this.#rotate(false);
    const out: RecoveredDraft[] = [];
    for (const seg of this.#segments.values()) {
      if (!seg.spill) continue;
      seg.spill = false;
      for (const draft of readSegment(seg.path).drafts) out.push({ draft, ref: seg });
      if (seg.pending === 0) this.#remove(seg);
    }
    return out;
  }

  get spilling(): boolean {
    return this.#current.spill;
  }

  /** Bytes in segments not yet committed (for health and metrics). */
  get pendingSegments(): number {
    let n = 0;
    for (const seg of this.#segments.values()) if (seg.pending > 0) n += 1;
    return n;
  }

  close(): void {
    this.#writeGroupedOrLeave();
    for (const seg of this.#segments.values()) {
      if (seg.fd !== undefined) {
        try { fdatasyncSync(seg.fd); } catch { /* closing anyway */ }
        closeSync(seg.fd);
        seg.fd = undefined;
      }
      if (seg.pending === 0) this.#remove(seg);
    }
    this.#unlock();
    this.#unlock = () => undefined;
  }

  #newSegment(spill: boolean): Segment {
    for (let attempt = 0; ; attempt++) {
      const id = this.#nextId++;
      const path = join(this.#dir, `segment-${String(id).padStart(16, '0')}.jsonl`);
      let fd: number;
      try {
        fd = openSync(path, NEW_SEGMENT, 0o600);
      } catch (err) {
        // Something is already there that the writer did not make: leave it, take the next name.
        if ((err as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 1000) continue;
        throw err;
      }
      const seg: Segment = { id, path, fd, pending: 0, size: 0, spill, syncing: undefined };
      this.#segments.set(id, seg);
      return seg;
    }
  }

  #rotate(spill: boolean): void {
    this.#writeGroupedOrLeave();
    const old = this.#current;
    this.#current = this.#newSegment(spill);
    if (old.pending === 0 && !old.spill) this.#remove(old);
    else this.#retire(old, false);
  }

  /** Syncs and closes a segment's descriptor off the main thread, then deletes the file if asked. */
  #retire(seg: Segment, unlinkAfter: boolean): void {
    const fd = seg.fd;
    seg.fd = undefined;
    const after = seg.syncing ?? Promise.resolve();
    void after.catch(() => undefined).then(() => new Promise<void>((resolve) => {
      if (fd === undefined) return resolve();
      fdatasync(fd, () => close(fd, () => resolve()));
    })).then(() => {
      if (unlinkAfter) unlink(seg.path, () => undefined);
    });
  }

  #remove(seg: Segment): void {
    this.#segments.delete(seg.id);
    this.#retire(seg, true);
  }
}

/**
 * The drafts of a segment, and how many lines are not one: a torn final line from a crash
 * mid-write (that draft was never acknowledged), or a line damaged on disk. A line is a draft
 * only when every field has its type: one with, say, a text time would fail its batch on every
 * retry and hold up the chain behind it.
 */
function readSegment(path: string): { drafts: AuditDraft[]; unreadable: number; refused?: string } {
  let text: string;
  let fd: number;
  try {
    fd = openSync(path, READ_SEGMENT);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'EMLINK') return { drafts: [], unreadable: 0, refused: 'a symbolic link' };
    return { drafts: [], unreadable: 0 };
  }
  try {
    // The writer makes its segments as regular files of its own user: anything else was planted
    // (a group member of a group-writable spool, a FIFO that would hold the start forever).
    const st = fstatSync(fd);
    if (!st.isFile()) return { drafts: [], unreadable: 0, refused: 'not a regular file' };
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) return { drafts: [], unreadable: 0, refused: `owned by user ${st.uid}, not by the user Gatehouse runs as (${uid})` };
    text = readFileSync(fd, 'utf8');
  } catch {
    return { drafts: [], unreadable: 0 };
  } finally {
    closeSync(fd);
  }
  const drafts: AuditDraft[] = [];
  let unreadable = 0;
  for (const line of text.split('\n')) {
    if (!line) continue;
    let d: unknown;
    try {
      d = JSON.parse(line);
    } catch {
      d = undefined;
    }
    if (isDraft(d)) drafts.push(d);
    else unreadable += 1;
  }
  return { drafts, unreadable };
}

const TEXT = ['instance', 'event', 'eventId', 'action', 'outcome', 'details'] as const;
const TEXT_OR_NULL = ['requestId', 'traceId', 'actor', 'actorKind', 'resource', 'decisionId', 'reasons', 'clientAddress'] as const;

function isDraft(d: unknown): d is AuditDraft {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return false;
  const r = d as Record<string, unknown>;
  if (!Number.isSafeInteger(r.time)) return false;
  for (const k of TEXT) if (typeof r[k] !== 'string') return false;
  // Absent is null (as the writer's generic path reads it).
  for (const k of TEXT_OR_NULL) if (r[k] !== null && r[k] !== undefined && typeof r[k] !== 'string') return false;
  return (AUDIT_OUTCOMES as readonly unknown[]).includes(r.outcome);
}
