/**
 * The chain hash: SHA-256 over the RFC 8785 (JCS) canonical JSON of a record's fields
 * and the previous record's hash.
 *
 * `seq` is deliberately not hashed: a record's place is fixed by `prevHash` (and by the
 * signed checkpoints, which name seq and hash together). That lets `verify` tell a
 * reordered or inserted record (valid on its own, wrong link) from a modified one
 * (contents no longer match its hash).
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { AuditRecord } from './record.ts';

/** `prevHash` of the first record of a chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** Version of the hashed serialization; part of the hash input so it can evolve. */
const HASH_VERSION = 1;

type Hashable = Omit<AuditRecord, 'seq' | 'hash'>;

/** The exact text that is hashed (exported for tests and external verifiers). */
export function hashInput(r: Hashable): string {
  const text = canonicalize({
    v: HASH_VERSION,
    chain: r.chain,
    prevHash: r.prevHash,
    time: r.time,
    instance: r.instance,
    event: r.event,
    eventId: r.eventId,
    requestId: r.requestId,
    traceId: r.traceId,
    actor: r.actor,
    actorKind: r.actorKind,
    action: r.action,
    resource: r.resource,
    outcome: r.outcome,
    decisionId: r.decisionId,
    reasons: r.reasons,
    clientAddress: r.clientAddress,
    details: r.details,
  });
  if (text === undefined) throw new TypeError('audit record is not serializable');
  return text;
}

/** Hex SHA-256 of the record's canonical form. */
export function recordHash(r: Hashable): string {
  return createHash('sha256').update(hashInput(r)).digest('hex');
}
