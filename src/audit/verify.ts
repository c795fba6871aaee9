/**
 * `audit verify`: recomputes every hash and checks every link and checkpoint signature,
 * streaming each chain in seq order (seq-range pages read as arrays, audit-scan.ts; hashed
 * by row-hash.ts), and names the first record that was modified, deleted, reordered or
 * inserted, and truncation at the end of the chain. On PostgreSQL a first pass hashes the
 * records from their column bytes (verify-bytes.ts) and this loop only reads on from the
 * page where that pass stopped, if it stopped.
 *
 * How a problem is told apart (the hash covers a record's fields and its prevHash, not
 * its seq — see hash.ts):
 *   modified   the record's fields no longer hash to its stored hash, or the chain up to
 *              a signed checkpoint no longer ends in the signed hash (rewritten);
 *   deleted    a seq is missing, or a record links to a hash that appears nowhere;
 *   inserted   the record after it links past it, or it links nowhere while its true
 *              successor follows;
 *   reordered  the record links to a record that appears later;
 *   truncated  the chain ends before its head row or its last signed checkpoint;
 *   index      the actor index (which no hash covers) does not match the verified records, so
 *              `audit query --actor` would leave records out or list them under another name.
 */
import type { JWK } from 'jose';
import { createAuditRepo, type AuditRepo } from '../store/repos/audit-repo.ts';
import { SCAN_ACTOR, SCAN_HASH, SCAN_PREV_HASH, SCAN_SEQ, SCAN_TIME, scanAuditRecords } from '../store/repos/audit-scan.ts';
import type { Store } from '../store/types.ts';
import { verifyCheckpoint } from './checkpoint.ts';
import { GENESIS_HASH } from './hash.ts';
import type { AuditCheckpoint, AuditRecord } from './record.ts';
import { scanRowHash, scanRowToRecord } from './row-hash.ts';
import { verifyBytes } from './verify-bytes.ts';
import { readsAsReplacement, storedAsRead } from './stored-text.ts';
import { RETENTION_EVENT } from './retention.ts';
import { verifyRetentionCut } from './retention-cut.ts';
import { ActorIndexCheck } from './actor-index-check.ts';

export type TamperKind = 'modified' | 'deleted' | 'reordered' | 'inserted' | 'truncated' | 'checkpoint' | 'index';

export interface VerifyProblem {
  chain: string;
  kind: TamperKind;
  /** The first affected seq. */
  seq: number;
  message: string;
}

export interface ChainSummary {
  chain: string;
  records: number;
  firstSeq: number | undefined;
  lastSeq: number | undefined;
  checkpoints: number;
  /** `genesis`, or the seq of the checkpoint verification started from (after retention). */
  startedFrom: 'genesis' | number;
  ok: boolean;
}

export interface VerifyReport {
  ok: boolean;
  chains: ChainSummary[];
  problems: VerifyProblem[];
  records: number;
  durationMs: number;
}

export interface VerifyOptions {
  /** Public keys whose checkpoint signatures are accepted. */
  trustedKeys: readonly JWK[];
  /** Only this chain (default: every chain in the store, and every chain these name). */
  chain?: string;
  /**
   * Checkpoints kept outside the database (`audit checkpoint export`), judged with
   * `trustedKeys` like the stored ones. They catch what the database alone cannot: a chain cut
   * back or rewritten together with its checkpoint rows and head.
   */
  exported?: readonly AuditCheckpoint[];
  batchSize?: number;
}

/** Verifies the audit log; never throws for tampering (it is in the report), only for an unreachable store. */
export async function verifyAudit(store: Store, options: VerifyOptions): Promise<VerifyReport> {
  const started = performance.now();
  const repo = createAuditRepo(store.db, store.dialect);
  const trusted = new Map<string, JWK>();
  for (const k of options.trustedKeys) if (k.kid) trusted.set(k.kid, k);
  const exported = options.exported ?? [];
  // A chain deleted outright is still named by its exported checkpoints.
  const chains = options.chain ? [options.chain] : [...new Set([...await repo.chains(), ...exported.map((c) => c.chain)])];
  const summaries: ChainSummary[] = [];
  const problems: VerifyProblem[] = [];
  let total = 0;
  for (const chain of chains) {
    const { summary, problem } = await verifyChain(store, repo, chain, trusted, exported.filter((c) => c.chain === chain), options.batchSize ?? 10_000);
    summaries.push(summary);
    total += summary.records;
    if (problem) problems.push(problem);
  }
  return { ok: problems.length === 0, chains: summaries, problems, records: total, durationMs: performance.now() - started };
}

async function verifyChain(store: Store, repo: AuditRepo, chain: string, trusted: ReadonlyMap<string, JWK>, exported: readonly AuditCheckpoint[], batchSize: number): Promise<{ summary: ChainSummary; problem: VerifyProblem | undefined }> {
  const summary: ChainSummary = { chain, records: 0, firstSeq: undefined, lastSeq: undefined, checkpoints: 0, startedFrom: 'genesis', ok: false };
  const fail = (kind: TamperKind, seq: number, message: string) => ({ summary, problem: { chain, kind, seq, message } });

  const valid: AuditCheckpoint[] = [];
  for (const cp of await repo.checkpoints(chain)) {
    const check = await verifyCheckpoint(cp, trusted);
    if (!check.ok) return fail('checkpoint', cp.seq, `checkpoint at seq ${cp.seq}: ${check.reason}`);
    valid.push(cp);
  }
  if (exported.length > 0) {
    const stored = new Map(valid.map((c) => [c.seq, c]));
    for (const cp of exported) {
      const check = await verifyCheckpoint(cp, trusted);
      if (!check.ok) return fail('checkpoint', cp.seq, `exported checkpoint at seq ${cp.seq}: ${check.reason}`);
      const same = stored.get(cp.seq);
      if (same === undefined) { stored.set(cp.seq, cp); valid.push(cp); }
      else if (same.hash !== cp.hash) return fail('checkpoint', cp.seq, `the exported and the stored checkpoint at seq ${cp.seq} sign different hashes`);
    }
    valid.sort((a, b) => a.seq - b.seq);
  }
  summary.checkpoints = valid.length;
  const head = await repo.head(chain);
  const first = await repo.firstSeq(chain);
  summary.firstSeq = first;
  const lastCheckpoint = valid.at(-1);

  if (first === undefined) {
    const expectedEnd = Math.max(head?.seq ?? 0, lastCheckpoint?.seq ?? 0);
    if (expectedEnd > 0) return fail('truncated', 1, `no records, but the chain was written up to seq ${expectedEnd}`);
    summary.ok = true;
    return { summary, problem: undefined };
  }

  let prevHash = GENESIS_HASH;
  let prevPrev: string | undefined;
  if (first !== 1) {
    const start = valid.find((c) => c.seq === first - 1);
    if (!start) return fail('deleted', 1, `records 1..${first - 1} are missing and no signed checkpoint at seq ${first - 1} vouches for where the chain resumes`);
    // Retention cuts at a checkpoint and records the cut, signed, in the chain (retention.ts);
    // without that record the start was deleted by someone else. The signature matters: anyone
    // who can write to the database can append an unsigned record claiming a cut at the head.
    // (If the record itself was altered, the scan below finds it modified.)
    const cut = { chain, cutAt: first - 1, hash: start.hash };
    let accounted = false;
    for (const details of await repo.eventDetails(chain, RETENTION_EVENT, first)) {
      if (await verifyRetentionCut(details, trusted, cut)) { accounted = true; break; }
    }
    if (!accounted) {
      return fail('deleted', 1, `records 1..${first - 1} are missing and no retention record signed by a trusted key accounts for them (a signed checkpoint at seq ${first - 1} alone does not: retention signs every cut it makes)`);
    }
    prevHash = start.hash;
    summary.startedFrom = start.seq;
  }

  let cpIndex = valid.findIndex((c) => c.seq >= first);
  if (cpIndex === -1) cpIndex = valid.length;
  let expected = first;
  // The byte pass must stop where the head (as read at the start) disagrees, too: the loop below names it.
  // The head row is the weakest evidence (unsigned): a disagreement with it is reported only
  // when the records and the signed checkpoints show nothing else.
  let headProblem: { seq: number; message: string } | undefined;
  const headDiffers = (seq: number) => { headProblem ??= { seq, message: `record ${seq}'s hash differs from the chain head` }; };
  const cpAtHead = head && valid.find((c) => c.seq === head.seq);
  if (head && cpAtHead && cpAtHead.hash !== head.hash) headDiffers(head.seq);
  const anchors = head && !cpAtHead ? [...valid, head].sort((a, b) => a.seq - b.seq) : valid;
  let anchorIndex = anchors.findIndex((c) => c.seq >= first);
  if (anchorIndex === -1) anchorIndex = anchors.length;
  ({ expected, prevHash, prevPrev, records: summary.records } = await verifyBytes(store, chain, { expected, prevHash, prevPrev, cpIndex: anchorIndex, records: 0 }, anchors, batchSize));
  while (cpIndex < valid.length && valid[cpIndex]!.seq < expected) cpIndex++;
  // Records the byte pass vouched for are not seen here; it only runs where this check does not (PostgreSQL).
  const indexCheck = expected === first ? await ActorIndexCheck.start(store, repo, chain) : undefined;
  for await (const page of scanAuditRecords(store.db, store.dialect, chain, expected - 1, batchSize)) {
    for (let i = 0; i < page.length; i++) {
      const r = page[i]!;
      const seq = r[SCAN_SEQ];
      if (seq !== expected) {
        return fail('deleted', expected, seq - expected === 1 ? `record ${expected} is missing` : `records ${expected}..${seq - 1} are missing`);
      }
      const hash = r[SCAN_HASH];
      if (scanRowHash(r) !== hash) return fail('modified', seq, `record ${seq} was modified (its fields no longer match its hash)`);
      if (store.dialect === 'sqlite' && readsAsReplacement(r) && !(await storedAsRead(store, r))) {
        return fail('modified', seq, `record ${seq} was modified (a value that reads as U+FFFD is stored as bytes that are not its UTF-8, which queries no longer match)`);
      }
      if (r[SCAN_PREV_HASH] !== prevHash) {
        const { kind, seq: at, message } = await classifyBrokenLink(repo, scanRowToRecord(r), prevHash, prevPrev, page.slice(i + 1, i + 1001).map(scanRowToRecord), batchSize);
        return fail(kind, at, message);
      }
      while (cpIndex < valid.length && valid[cpIndex]!.seq < seq) cpIndex++;
      const cp = valid[cpIndex];
      if (cp && cp.seq === seq && cp.hash !== hash) {
        // Every earlier checkpoint matched (the walk stops at the first that does not), so the rewrite lies after the last of them:
        // with the hashes recomputed that range is all the chain can tell, and the operator compares it with a backup or export.
        const matched = cpIndex > 0 ? valid[cpIndex - 1]!.seq : 0;
        const from = Math.max(matched + 1, first);
        const where = from < seq ? `one or more of records ${from}..${seq} were changed${matched >= first ? ` (the checkpoint at seq ${matched} still matches)` : ''}` : `record ${seq} was changed`;
        return fail('modified', seq, `the chain up to record ${seq} was rewritten: its hash differs from the checkpoint signed at seq ${cp.seq}; ${where}`);
      }
      if (head && head.seq === seq && head.hash !== hash) headDiffers(seq);
      if (indexCheck?.add(seq, r[SCAN_ACTOR], r[SCAN_TIME])) await indexCheck.compareWindow();
      prevPrev = prevHash;
      prevHash = hash;
      expected += 1;
      summary.records += 1;
    }
  }
  const last = expected - 1;
  summary.lastSeq = last;
  if (lastCheckpoint && lastCheckpoint.seq > last) {
    return fail('truncated', last + 1, `the chain ends at seq ${last}, but a checkpoint was signed at seq ${lastCheckpoint.seq}`);
  }
  if (head) {
    if (head.seq > last) return fail('truncated', last + 1, `the chain ends at seq ${last}, but its head says ${head.seq}`);
    // Records after the head read at the start: a live writer's, committed while this ran, or
    // added behind its back. A writer moves the head in the same transaction as its records
    // (and only forward), so a head read now covers every record it wrote that the walk saw.
    // (The record at the first head's seq was compared with that head during the walk.)
    if (head.seq < last) {
      const now = await repo.head(chain);
      const covered = now?.seq ?? head.seq;
      if (covered < last) return fail('inserted', covered + 1, `records ${covered + 1}..${last} were added after the chain head`);
    }
  }
  if (headProblem) return fail('modified', headProblem.seq, headProblem.message);
  // Queries by actor read records up to the mark through the index alone: an entry deleted, or
  // its time moved, hides a record the chain above just vouched for, and a mark moved on hides
  // the records it skips (and, past the head, every one appended later).
  const index = indexCheck && await indexCheck.clean() ? undefined : await repo.actorIndexProblem(chain);
  if (index?.kind === 'mark') return fail('index', index.head + 1, `the actor index mark is at seq ${index.mark}, past the chain head (${index.head}): records appended after it would never be indexed, and audit query --actor would not find them`);
  if (index?.kind === 'missing') {
    const why = index.headless ? 'and the chain has no head row, so audit query --actor reads all of it through the index' : 'though the index mark says it has one';
    return fail('index', index.seq, `record ${index.seq} has no actor index entry for its actor and time, ${why}: audit query --actor does not return it`);
  }
  if (index?.kind === 'mismatch') return fail('index', index.seq, `an actor index entry for record ${index.seq} names another actor or time than the record: audit query --actor may list the record twice or miss it`);
  summary.ok = true;
  return { summary, problem: undefined };
}

async function classifyBrokenLink(repo: AuditRepo, r: AuditRecord, prevHash: string, prevPrev: string | undefined, rest: AuditRecord[], batchSize: number): Promise<{ kind: TamperKind; seq: number; message: string }> {
  if (prevPrev !== undefined && r.prevHash === prevPrev) {
    return { kind: 'inserted', seq: r.seq - 1, message: `record ${r.seq - 1} was inserted (record ${r.seq} links past it)` };
  }
  const ahead = rest.length >= 1000 ? rest.slice(0, 1000) : [...rest, ...await repo.page(r.chain, rest.at(-1)?.seq ?? r.seq, Math.min(batchSize, 1000))];
  const laterHashes = new Set(ahead.map((x) => x.hash));
  const successorFollows = ahead.some((x) => x.prevHash === prevHash);
  if (laterHashes.has(r.prevHash)) return { kind: 'reordered', seq: r.seq, message: `record ${r.seq} is out of order (it links to a record stored later)` };
  if (successorFollows) return { kind: 'inserted', seq: r.seq, message: `record ${r.seq} was inserted (it links to no record; the true successor follows)` };
  return { kind: 'deleted', seq: r.seq, message: `a record before ${r.seq} is missing (record ${r.seq} links to a hash that is not in the chain)` };
}
