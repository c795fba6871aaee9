/**
 * Retention by age. Records are deleted only up to a signed checkpoint (the newest one
 * with no record at or before it younger than the cut-off), and that checkpoint is kept:
 * verification then starts from it, so deleting old records never breaks `audit verify`. The
 * cut is signed with the audit signing key (retention-cut.ts): only the key holder can shorten
 * a chain in a way verify accepts.
 *
 * Because the cut is signed, what it deletes must be proven old, not only said to be: the
 * `time` column and the checkpoint rows are whatever the database holds. Someone who can write
 * to it but cannot sign would otherwise backdate yesterday's records (or rewrite them, with a
 * checkpoint row of their own) and let this job delete them and sign the cut, after which
 * verify accepts the shorter chain. So the records to delete are hashed and linked up to a
 * checkpoint whose signature is checked: then every time read is one a signature vouches for.
 */
import { randomUUIDv7 } from 'node:crypto';
import type { JWK } from 'jose';
import type { Logger } from 'pino';
import { toGatehouseError } from '../core/errors.ts';
import { createAuditRepo } from '../store/repos/audit-repo.ts';
import { SCAN_HASH, SCAN_PREV_HASH, SCAN_SEQ, SCAN_TIME, scanAuditRecords } from '../store/repos/audit-scan.ts';
import type { Store } from '../store/types.ts';
import { verifyCheckpoint } from './checkpoint.ts';
import { GENESIS_HASH, recordHash } from './hash.ts';
import type { AuditCheckpoint, AuditDraft } from './record.ts';
import { signRetentionCut } from './retention-cut.ts';
import { scanRowHash } from './row-hash.ts';
import type { AuditSigningKey } from './signing-key.ts';

export interface RetentionResult {
  chain: string;
  /** Seq of the checkpoint the chain now starts after, or undefined when nothing could be deleted. */
  cutAt: number | undefined;
  deletedRecords: number;
  deletedCheckpoints: number;
  /**
   * Where the chain stopped proving itself before the cut-off (a record that does not hash or
   * link, a missing seq, a checkpoint row that differs from its record): nothing at or after it
   * is deleted; `audit verify` names what happened.
   */
  heldAt?: { seq: number; reason: string };
}

export interface RetentionOptions {
  chain: string;
  maxAgeMs: number;
  signingKey: AuditSigningKey;
  /** Keys whose checkpoints may be cut at (default: the signing key's public half). */
  trustedKeys?: readonly JWK[];
  now?: number;
  instance?: string;
  actor?: string;
}

/** Event of the record a retention run appends to the chain it cut (see {@link applyRetention}). */
export const RETENTION_EVENT = 'audit.retention.applied';

/**
 * Deletes a chain's records older than `now - maxAgeMs`, up to the newest checkpoint before
 * that time, and — in the same transaction — appends to the chain a record saying so
 * (`audit.retention.applied`, details `{ cutAt, deletedRecords, deletedCheckpoints, maxAgeMs,
 * kid, jws }`, the JWS signing the chain, `cutAt` and the checkpoint's hash). That record is
 * hash-chained and later checkpointed like any other, so `audit verify` can tell a chain
 * shortened by retention from one whose start was deleted by someone who can write to the
 * database but cannot sign: a missing start needs a signed checkpoint where the chain resumes
 * *and* a retention record whose signature names that checkpoint.
 */
export async function applyRetention(store: Store, options: RetentionOptions): Promise<RetentionResult> {
  const now = options.now ?? Date.now();
  const cutoff = now - options.maxAgeMs;
  const { chain } = options;
  // Before the transaction: the proof reads every record it deletes, and writers (which only
  // append, after the head) need not wait for that. Another run cutting meanwhile only makes
  // the delete below find fewer records.
  const { cp, heldAt } = await provenCutPoint(store, chain, cutoff, options.trustedKeys ?? [options.signingKey.publicJwk]);
  const held = heldAt ? { heldAt } : {};
  if (!cp) return { chain, cutAt: undefined, deletedRecords: 0, deletedCheckpoints: 0, ...held };
  return store.transaction(async (trx) => {
    const repo = createAuditRepo(trx, store.dialect);
    // The head first: writers of this chain wait until the cut and its record are committed.
    const head = await repo.lockHead(chain, GENESIS_HASH);
    const deletedRecords = await repo.deleteThrough(chain, cp.seq);
    const deletedCheckpoints = await repo.deleteCheckpointsBefore(chain, cp.seq);
    // Nothing new cut (an earlier run already did): no record, or every hourly run would add one.
    if (deletedRecords === 0) return { chain, cutAt: cp.seq, deletedRecords, deletedCheckpoints, ...held };
    const { kid, jws } = await signRetentionCut(options.signingKey, { chain, cutAt: cp.seq, hash: cp.hash }, now);
    const draft: AuditDraft = {
      time: now, instance: options.instance ?? 'retention', event: RETENTION_EVENT, eventId: randomUUIDv7(), requestId: null, traceId: null,
      actor: options.actor ?? 'retention', actorKind: 'system', action: RETENTION_EVENT, resource: `audit:${chain}`, outcome: 'success',
      decisionId: null, reasons: null, clientAddress: null,
      details: JSON.stringify({ cutAt: cp.seq, deletedRecords, deletedCheckpoints, maxAgeMs: options.maxAgeMs, kid, jws }),
    };
    const seq = head.seq + 1;
    const hash = recordHash({ ...draft, chain, prevHash: head.hash });
    await repo.insertRecords([{ ...draft, chain, seq, prevHash: head.hash, hash }]);
    await repo.setHead({ chain, seq, hash }, now);
    return { chain, cutAt: cp.seq, deletedRecords, deletedCheckpoints, ...held };
  });
}

/** Most records one run proves (and so deletes): a first run over years of records is spread over several. */
const MAX_RECORDS_PER_RUN = 1_000_000;

/**
 * The newest checkpoint, signed by a trusted key, such that every record from the chain's start
 * up to it hashes, links to the one before and is older than `cutoff`. Walks from the start and
 * stops at the first young record (time follows seq only roughly: an event the bus delivers
 * again days after it was published, an instance whose clock is behind, so a young record can
 * sit before an old one that carries a checkpoint) and at the first record that does not prove
 * itself (`heldAt`). A checkpoint row that differs from its record stops the walk as well: the
 * records or the row were altered, and no later checkpoint can vouch for the records before it.
 */
async function provenCutPoint(store: Store, chain: string, cutoff: number, trustedKeys: readonly JWK[]): Promise<{ cp: AuditCheckpoint | undefined; heldAt?: { seq: number; reason: string } }> {
  const repo = createAuditRepo(store.db, store.dialect);
  const first = await repo.firstSeq(chain);
  if (first === undefined) return { cp: undefined };
  const checkpoints = new Map((await repo.checkpoints(chain)).filter((c) => c.seq >= first).map((c) => [c.seq, c]));
  if (checkpoints.size === 0) return { cp: undefined };
  const trusted = new Map<string, JWK>();
  for (const k of trustedKeys) if (k.kid) trusted.set(k.kid, k);
  /** Checkpoints the records up to them prove, oldest first; the newest signed one is the cut. */
  const matched: AuditCheckpoint[] = [];
  let heldAt: { seq: number; reason: string } | undefined;
  let expected = first;
  let prevHash: string | undefined;
  walk: for await (const page of scanAuditRecords(store.db, store.dialect, chain, first - 1, 1000)) {
    for (const r of page) {
      const seq = r[SCAN_SEQ];
      if (seq !== expected) { heldAt = { seq: expected, reason: 'record missing' }; break walk; }
      if (r[SCAN_TIME] >= cutoff || seq - first >= MAX_RECORDS_PER_RUN) break walk;
      const hash = scanRowHash(r);
      if (hash !== r[SCAN_HASH]) { heldAt = { seq, reason: 'record does not match its hash' }; break walk; }
      if (prevHash !== undefined && r[SCAN_PREV_HASH] !== prevHash) { heldAt = { seq, reason: 'record does not link to the one before' }; break walk; }
      const cp = checkpoints.get(seq);
      if (cp !== undefined) {
        if (cp.hash !== hash) { heldAt = { seq, reason: 'checkpoint differs from its record' }; break walk; }
        matched.push(cp);
      }
      prevHash = hash;
      expected += 1;
    }
  }
  // Newest first; a row without a trusted signature (planted, or another instance's key) is passed over.
  for (let i = matched.length - 1; i >= 0; i--) {
    if ((await verifyCheckpoint(matched[i]!, trusted)).ok) return { cp: matched[i], ...(heldAt ? { heldAt } : {}) };
  }
  return { cp: undefined, ...(heldAt ? { heldAt } : {}) };
}

export interface RetentionTask {
  stop(): Promise<void>;
}

/** Runs `applyRetention` every `intervalMs` (first run after one interval). */
export function startRetention(store: Store, options: RetentionOptions & { intervalMs: number; logger?: Logger }): RetentionTask {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = applyRetention(store, options).then(
      (r) => {
        if (r.heldAt) options.logger?.error(r, 'audit: retention stopped where the chain no longer proves itself; run gatehouse audit verify');
        else if (r.deletedRecords) options.logger?.info(r, 'audit: retention deleted old records');
      },
      (err: unknown) => options.logger?.warn({ err: toGatehouseError(err) }, 'audit: retention failed; will retry'),
    );
  }, options.intervalMs);
  timer.unref();
  return { async stop() { clearInterval(timer); await running; } };
}
