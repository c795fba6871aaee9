/**
 * The chain hash: SHA-256 over the RFC 8785 (JCS) canonical JSON of a record's fields
 * and the previous record's hash.
 *
 * `seq` is deliberately not hashed: a record's place is fixed by `prevHash` (and by the
 * signed checkpoints, which name seq and hash together). That lets `verify` tell a
 * reordered or inserted record (valid on its own, wrong link) from a modified one
 * (contents no longer match its hash).
 */
import { hash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { AuditDraft, AuditRecord } from './record.ts';

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
  return hash('sha256', hashInput(r), 'hex');
}

/**
 * A draft serialized once for both the spool and the chain hash: the RFC 8785 canonical JSON
 * of its own fields (the hash input without `chain`, `prevHash` and `v`), or undefined when
 * the draft is outside the flat shape {@link hashInput} writes directly (then the caller
 * serializes it and hashes with {@link recordHash}).
 *
 * One native JSON.stringify of an object whose keys are created in JCS order gives exactly
 * the canonical text for well-formed strings, nulls and a safe integer; it is also a valid
 * JSON line for the spool, which parses it back into the same draft.
 */
export function canonicalDraftJson(d: AuditDraft): string | undefined {
  if (!Number.isSafeInteger(d.time)) return undefined;
  const values = [d.action, d.actor, d.actorKind, d.clientAddress, d.decisionId, d.details, d.event, d.eventId, d.instance, d.outcome, d.reasons, d.requestId, d.resource, d.traceId];
  for (const v of values) if (v !== null && (typeof v !== 'string' || !v.isWellFormed())) return undefined;
  return JSON.stringify({
    action: d.action, actor: d.actor, actorKind: d.actorKind, clientAddress: d.clientAddress, decisionId: d.decisionId, details: d.details,
    event: d.event, eventId: d.eventId, instance: d.instance, outcome: d.outcome, reasons: d.reasons, requestId: d.requestId,
    resource: d.resource, time: d.time, traceId: d.traceId,
  });
}

/**
 * Hex SHA-256 of a record given its draft's {@link canonicalDraftJson}: `chain` and `prevHash`
 * are spliced in at their JCS places (before `clientAddress` and `reasons`), `v` at the end.
 * Equal to {@link recordHash} of the same record. The splice points are found by searching for
 * the key separators `,"clientAddress":` and `,"reasons":`: inside a JSON string every `"` is
 * escaped, so `,"` can only be the start of the next key, never part of a value.
 */
export function linkedHash(canonicalDraft: string, chain: string, prevHash: string): string {
  const atChain = canonicalDraft.indexOf(',"clientAddress":');
  const atPrev = canonicalDraft.indexOf(',"reasons":', atChain);
  const input = `${canonicalDraft.slice(0, atChain)},"chain":${JSON.stringify(chain)}${canonicalDraft.slice(atChain, atPrev)},"prevHash":${JSON.stringify(prevHash)}${canonicalDraft.slice(atPrev, -1)},"v":${HASH_VERSION}}`;
  return hash('sha256', input, 'hex');
}
