/**
 * One batch of the audit writer appended to the hash chain in one transaction:
 *   lock chain head → skip already-stored event ids → assign seq + prevHash + hash
 *   → insert → move head                              [no gap, no fork on failure]
 * On PostgreSQL a writer that wrote the head last links the batch first and sends it as one
 * message that moves the head only from where it left it (no gap, no fork either).
 */
import { createAuditRepo } from '../store/repos/audit-repo.ts';
import type { Store } from '../store/types.ts';
import { canonicalDraftJson, GENESIS_HASH, linkedHash, recordHash } from './hash.ts';
import type { AuditDraft, AuditRecord, ChainHead } from './record.ts';

/**
 * A queued draft as the batch needs it: the draft, its canonical JSON, or both. With only the
 * draft the text is computed again; with only the text (what a writer with a commit thread
 * keeps, see writer.ts) the draft is parsed back from it.
 */
export type BatchDraft = {
  /** Recovered or delivered by the bus: may already be stored. */
  mayDuplicate: boolean;
} & ({ draft: AuditDraft; canonical: string | undefined } | { draft: undefined; canonical: string });

export interface AppendedBatch {
  /** The chain head after the batch. */
  head: ChainHead;
  committed: number;
  /** Drafts of the batch already stored (or repeated within it). */
  skipped: number;
  /** What the writer last wrote, when the chain no longer holds it (see overwrittenHead). */
  overwritten: ChainHead | undefined;
}

/**
 * A batch made ready to send before its turn: its drafts parsed and, when it can take the
 * one-message path, linked from `from` (the head it expects the chain to be at when it is sent).
 */
export interface PreparedBatch {
  readonly drafts: readonly AuditDraft[];
  readonly from: ChainHead | undefined;
  /** The records linked from `from` and the head after them; undefined when the batch takes the lock. */
  readonly linked: { records: AuditRecord[]; head: ChainHead } | undefined;
}

/** Appends `batch` to `chain`; `lastHead` is the head this writer last wrote, if any. */
export function appendBatch(store: Store, chain: string, batch: readonly BatchDraft[], lastHead: ChainHead | undefined): Promise<AppendedBatch> {
  return sendBatch(store, chain, batch, prepareBatch(store, chain, batch, lastHead), lastHead);
}

/**
 * The CPU half of {@link appendBatch}, which needs no database: the drafts parsed and, when this
 * writer wrote the head last (`from`) and nothing of the batch can be stored already (the common
 * case), the batch linked from there. Done while the batch before it is still in flight
 * (chain-pipeline.ts), it is off the serial path of the batches.
 */
export function prepareBatch(store: Store, chain: string, batch: readonly BatchDraft[], from: ChainHead | undefined): PreparedBatch {
  // Parsed before the transaction: its lock (the chain head, SQLite's write lock) is not held for it.
  const drafts = batch.map((q) => q.draft ?? JSON.parse(q.canonical) as AuditDraft);
  const fast = store.dialect === 'postgres' && from !== undefined && from.seq > 0 && !batch.some((q) => q.mayDuplicate);
  return { drafts, from, linked: fast ? link(chain, batch, drafts, from, new Set()) : undefined };
}

/**
 * Appends a prepared batch; `lastHead` is the head this writer last wrote, if any. When the batch
 * was linked from that head, it goes as one message that moves the head only if it is still
 * there (AuditRepo.appendAtHead); otherwise, or when the head moved, it is linked again under the lock.
 */
export async function sendBatch(store: Store, chain: string, batch: readonly BatchDraft[], prepared: PreparedBatch, lastHead: ChainHead | undefined): Promise<AppendedBatch> {
  const { drafts, linked } = prepared;
  if (linked !== undefined && lastHead !== undefined && sameHead(prepared.from, lastHead)) {
    if (linked.records.length === 0) return { head: lastHead, committed: 0, skipped: batch.length, overwritten: undefined };
    if (await createAuditRepo(store.db, store.dialect).appendAtHead(lastHead, linked.head, linked.records, Date.now())) {
      return { head: linked.head, committed: linked.records.length, skipped: batch.length - linked.records.length, overwritten: undefined };
    }
  }
  return store.transaction(async (trx) => {
    const repo = createAuditRepo(trx, store.dialect);
    const h = await repo.lockHead(chain, GENESIS_HASH);
    const overwritten = await overwrittenHead(repo, chain, lastHead, h);
    const candidates = drafts.filter((_, i) => batch[i]!.mayDuplicate).map((d) => d.eventId);
    const existing = candidates.length ? await repo.existingEventIds(candidates) : new Set<string>();
    const { records, head } = link(chain, batch, drafts, h, existing);
    if (records.length) {
      await repo.insertRecords(records);
      await repo.setHead(head, Date.now());
    }
    return { head, committed: records.length, skipped: batch.length - records.length, overwritten };
  });
}

/** Same chain position: same chain, seq and hash. */
export function sameHead(a: ChainHead | undefined, b: ChainHead | undefined): boolean {
  return a !== undefined && b !== undefined && a.chain === b.chain && a.seq === b.seq && a.hash === b.hash;
}

/**
 * The batch's records linked from `from`: seq and prevHash assigned, each hashed. Drafts whose
 * event id is in `existing` or repeats within the batch are left out.
 */
function link(chain: string, batch: readonly BatchDraft[], drafts: readonly AuditDraft[], from: ChainHead, existing: Set<string>): { records: AuditRecord[]; head: ChainHead } {
  const seen = new Set<string>();
  let seq = from.seq;
  let prevHash = from.hash;
  const records: AuditRecord[] = [];
  for (const [i, q] of batch.entries()) {
    const d = drafts[i]!;
    const id = d.eventId;
    if (existing.has(id) || seen.has(id)) continue;
    seen.add(id);
    const canonical = q.canonical ?? canonicalDraftJson(d);
    const hash = canonical === undefined ? recordHash({ ...d, chain, prevHash }) : linkedHash(canonical, chain, prevHash);
    seq += 1;
    records.push({
      chain, seq, time: d.time, instance: d.instance, event: d.event, eventId: id, requestId: d.requestId, traceId: d.traceId,
      actor: d.actor, actorKind: d.actorKind, action: d.action, resource: d.resource, outcome: d.outcome, decisionId: d.decisionId,
      reasons: d.reasons, clientAddress: d.clientAddress, details: d.details, prevHash, hash,
    });
    prevHash = hash;
  }
  return { records, head: { chain, seq, hash: prevHash } };
}

/**
 * What this writer last wrote, when the chain it is about to extend no longer holds it: the
 * head moved back, or to the same seq with another hash, or past it while the record at that
 * seq now has another hash. Anyone who can write to the database can rewrite what follows the
 * last checkpoint (hashes and links recomputed, head moved); without this, the next checkpoint
 * would sign over the rewrite. Only a head another writer moved costs a read (of one record).
 * A record that is gone is left to verify (a gap, or retention, which cuts and records it).
 */
async function overwrittenHead(repo: ReturnType<typeof createAuditRepo>, chain: string, own: ChainHead | undefined, h: ChainHead): Promise<ChainHead | undefined> {
  if (!own || own.seq === 0) return undefined;
  if (h.seq < own.seq || (h.seq === own.seq && h.hash !== own.hash)) return own;
  if (h.seq === own.seq) return undefined;
  const [r] = await repo.page(chain, own.seq - 1, 1);
  return r && r.seq === own.seq && r.hash !== own.hash ? own : undefined;
}
