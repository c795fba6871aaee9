/**
 * The first pass of `audit verify` where the store can hand over column bytes (PostgreSQL
 * binary COPY, audit-scan.ts): every record is hashed from its bytes (raw-row-hash.ts) and
 * its seq, link and checkpoint checked, as verify.ts checks them. It only ever vouches for
 * records that pass every check; at the first that does not (or anything it cannot read),
 * it stops at the start of that record's page and hands back where it stands, and verify.ts
 * reads on from there the other way — the same pages as it would have read from the start,
 * so a problem is found and named exactly as without this pass.
 */
import type { Store } from '../store/types.ts';
import { SCAN_HASH, SCAN_PREV_HASH, scanAuditRecordBytes, type AuditBytePage } from '../store/repos/audit-scan.ts';
import { GatehouseError } from '../core/errors.ts';
import { BYTE_ROW_HASH, byteRowHash } from './raw-row-hash.ts';

/** A seq whose record must have this hash (a valid signed checkpoint, or the chain head), in seq order. */
export interface Anchor {
  readonly seq: number;
  readonly hash: string;
}

/** Where the walk of a chain stands: the seq it expects next and what that record must link to. */
export interface ChainCursor {
  expected: number;
  prevHash: string;
  /** The link before `prevHash` (tells an inserted record apart). */
  prevPrev: string | undefined;
  /** Index in the anchors of the first with seq ≥ the records seen. */
  cpIndex: number;
  records: number;
}

/**
 * Advances `from` over every record that verifies; returns the cursor at the start of the
 * page where it stopped (or after the last record). `from` itself is not changed.
 */
export async function verifyBytes(store: Store, chain: string, from: ChainCursor, checkpoints: readonly Anchor[], pageSize: number): Promise<ChainCursor> {
  // Links are compared as latin1-decoded bytes, which agrees with how the other reader decodes
  // them (UTF-8) only for ASCII: a start hash of anything else is left to that reader.
  const pages = BYTE_ROW_HASH && ASCII.test(from.prevHash) ? scanAuditRecordBytes(store.db, chain, from.expected - 1, pageSize) : undefined;
  if (!pages) return from;
  let pageStart = { ...from };
  const c = { ...from };
  try {
    for await (const page of pages) {
      pageStart = { ...c };
      for (let row = 0; row < page.length; row += SLICE) {
        // Between slices the event loop reads the next page off the socket: while this one
        // is hashed in one go, the server can only send what the socket buffer holds.
        if (row > 0) await new Promise(setImmediate);
        if (!advance(page, row, Math.min(row + SLICE, page.length), c, checkpoints)) return pageStart;
      }
    }
  } catch (error) {
    // The other reader fails the same way when the store is unreachable; anything else
    // (a server or proxy that does not speak binary COPY) is only this pass giving up.
    if (error instanceof GatehouseError && error.code === 'ERR_STORE_UNAVAILABLE') throw error;
    return pageStart;
  }
  return c;
}

/** Records hashed between two turns of the event loop. */
const SLICE = 1000;

/** Walks rows `from`..`to` of a page; false at the first record that does not verify (`c` is then mid-page). */
function advance(page: AuditBytePage, from: number, to: number, c: ChainCursor, checkpoints: readonly Anchor[]): boolean {
  for (let i = from; i < to; i++) {
    const seq = page.seqs[i]!;
    if (seq !== c.expected) return false;
    // A computed hash is ASCII hex, so is every prevHash after the first (checked above): a
    // stored value equal to one as latin1 is those very bytes, as UTF-8 would decode them.
    const hash = byteRowHash(page, i);
    if (hash === undefined || latin1(page, i, SCAN_HASH) !== hash || latin1(page, i, SCAN_PREV_HASH) !== c.prevHash) return false;
    while (c.cpIndex < checkpoints.length && checkpoints[c.cpIndex]!.seq < seq) c.cpIndex++;
    const cp = checkpoints[c.cpIndex];
    if (cp && cp.seq === seq && cp.hash !== hash) return false;
    c.prevPrev = c.prevHash;
    c.prevHash = hash;
    c.expected += 1;
    c.records += 1;
  }
  return true;
}

const ASCII = /^[\x00-\x7f]*$/;

/** A text column's bytes as a latin1 string (one native copy; undefined for null). */
function latin1(page: AuditBytePage, row: number, field: number): string | undefined {
  const at = (row * page.fields + field) * 2;
  const length = page.spans[at + 1]!;
  if (length < 0) return undefined;
  const start = page.spans[at]!;
  return page.data.toString('latin1', start, start + length);
}
