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

/**
 * The exact text that is hashed: the RFC 8785 canonical JSON of the record's fields.
 *
 * The shape is fixed and flat (strings, one integer, nulls), so the canonical form is
 * written directly with the keys in JCS order (UTF-16 code units) and each value through
 * JSON.stringify, which for well-formed strings and safe integers is exactly JCS's
 * serialization. Anything outside that shape goes through the general `canonicalize`
 * (tests check both agree on hostile strings).
 */
export function hashInput(r: Hashable): string {
  const values = [r.action, r.actor, r.actorKind, r.chain, r.clientAddress, r.decisionId, r.details, r.event, r.eventId, r.instance, r.outcome, r.prevHash, r.reasons, r.requestId, r.resource, r.traceId];
  let fast = Number.isSafeInteger(r.time);
  for (const v of values) if (v !== null && (typeof v !== 'string' || !v.isWellFormed())) fast = false;
  if (fast) {
    const q = (v: string | null) => (v === null ? 'null' : JSON.stringify(v));
    return `{"action":${q(r.action)},"actor":${q(r.actor)},"actorKind":${q(r.actorKind)},"chain":${q(r.chain)},"clientAddress":${q(r.clientAddress)},"decisionId":${q(r.decisionId)},"details":${q(r.details)},"event":${q(r.event)},"eventId":${q(r.eventId)},"instance":${q(r.instance)},"outcome":${q(r.outcome)},"prevHash":${q(r.prevHash)},"reasons":${q(r.reasons)},"requestId":${q(r.requestId)},"resource":${q(r.resource)},"time":${JSON.stringify(r.time)},"traceId":${q(r.traceId)},"v":${HASH_VERSION}}`;
  }
  return canonicalHashInput(r);
}

/** The general path: the `canonicalize` package (RFC 8785 reference implementation). */
export function canonicalHashInput(r: Hashable): string {
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
