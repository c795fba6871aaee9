/**
 * Retention by age. Records are deleted only up to a signed checkpoint (the newest one
 * whose record is older than the cut-off), and that checkpoint is kept: verification
 * then starts from it, so deleting old records never breaks `audit verify`. The cut is
 * signed with the audit signing key (retention-cut.ts): only the key holder can shorten a
 * chain in a way verify accepts.
 */
import { randomUUIDv7 } from 'node:crypto';
import type { Logger } from 'pino';
import { toGatehouseError } from '../core/errors.ts';
import { createAuditRepo, type AuditRepo } from '../store/repos/audit-repo.ts';
import type { Store } from '../store/types.ts';
import { GENESIS_HASH, recordHash } from './hash.ts';
import type { AuditCheckpoint, AuditDraft } from './record.ts';
import { signRetentionCut } from './retention-cut.ts';
import type { AuditSigningKey } from './signing-key.ts';

export interface RetentionResult {
  chain: string;
  /** Seq of the checkpoint the chain now starts after, or undefined when nothing could be deleted. */
  cutAt: number | undefined;
  deletedRecords: number;
  deletedCheckpoints: number;
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
export async function applyRetention(store: Store, options: { chain: string; maxAgeMs: number; signingKey: AuditSigningKey; now?: number; instance?: string; actor?: string }): Promise<RetentionResult> {
  const now = options.now ?? Date.now();
  const cutoff = now - options.maxAgeMs;
  const { chain } = options;
  return store.transaction(async (trx) => {
    const repo = createAuditRepo(trx, store.dialect);
    // The head first: writers of this chain wait until the cut and its record are committed.
    const head = await repo.lockHead(chain, GENESIS_HASH);
    const cp = await cutPoint(repo, chain, cutoff);
    if (!cp) return { chain, cutAt: undefined, deletedRecords: 0, deletedCheckpoints: 0 };
    const deletedRecords = await repo.deleteThrough(chain, cp.seq);
    const deletedCheckpoints = await repo.deleteCheckpointsBefore(chain, cp.seq);
    // Nothing new cut (an earlier run already did): no record, or every hourly run would add one.
    if (deletedRecords === 0) return { chain, cutAt: cp.seq, deletedRecords, deletedCheckpoints };
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
    return { chain, cutAt: cp.seq, deletedRecords, deletedCheckpoints };
  });
}

/**
 * The newest checkpoint with no record at or before it younger than `cutoff`. A checkpoint's own
 * record being old is not enough: time follows seq only roughly (an event the bus delivers again
 * days after it was published, an instance whose clock is behind), and such a record at the head
 * when a checkpoint is signed would let the cut take the younger records before it.
 */
async function cutPoint(repo: AuditRepo, chain: string, cutoff: number): Promise<AuditCheckpoint | undefined> {
  const cp = await repo.lastCheckpointBefore(chain, cutoff);
  if (!cp) return undefined;
  const [young] = await repo.query({ chain, since: cutoff, limit: 1 });
  if (!young || young.seq > cp.seq) return cp;
  // Every record before the first young one is old, so is the record of any checkpoint there.
  return (await repo.checkpoints(chain)).filter((c) => c.seq < young.seq).at(-1);
}

export interface RetentionTask {
  stop(): Promise<void>;
}

/** Runs `applyRetention` every `intervalMs` (first run after one interval). */
export function startRetention(store: Store, options: { chain: string; maxAgeMs: number; intervalMs: number; signingKey: AuditSigningKey; logger?: Logger }): RetentionTask {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = applyRetention(store, options).then(
      (r) => { if (r.deletedRecords) options.logger?.info(r, 'audit: retention deleted old records'); },
      (err: unknown) => options.logger?.warn({ err: toGatehouseError(err) }, 'audit: retention failed; will retry'),
    );
  }, options.intervalMs);
  timer.unref();
  return { async stop() { clearInterval(timer); await running; } };
}
