/**
 * The chain hash of a record as `audit verify` reads it (an {@link AuditScanRow}), without
 * building an AuditRecord and without one JSON.stringify per field: verify hashes every
 * record of the log, so this is its inner loop.
 *
 * One native JSON.stringify of an object whose keys are created in the JCS order of
 * hash.ts gives exactly `hashInput`'s text for well-formed strings, nulls and a safe
 * integer (JSON.stringify lists string keys in creation order and quotes strings as JCS
 * does). Any other row goes through `recordHash` itself. At load the two are compared on a
 * probe record; should hash.ts ever change its text (a new version, another field), every
 * row takes the `recordHash` path: slower, never wrong.
 */
import { hash } from 'node:crypto';
import type { AuditScanRow } from '../store/repos/audit-scan.ts';
import { hashInput, recordHash } from './hash.ts';
import type { AuditOutcome, AuditRecord } from './record.ts';

function canonicalText(r: AuditScanRow): string {
  return JSON.stringify({
    action: r[0], actor: r[1], actorKind: r[2], chain: r[3], clientAddress: r[4], decisionId: r[5], details: r[6], event: r[7],
    eventId: r[8], instance: r[9], outcome: r[10], prevHash: r[11], reasons: r[12], requestId: r[13], resource: r[14], time: r[15],
    traceId: r[16], v: 1,
  });
}

/** True when every hashed value is a well-formed string or null and time a safe integer. */
function flat(r: AuditScanRow): boolean {
  if (!Number.isSafeInteger(r[15])) return false;
  for (let i = 0; i < 17; i++) {
    if (i === 15) continue;
    const v: unknown = r[i];
    if (v !== null && (typeof v !== 'string' || !v.isWellFormed())) return false;
  }
  return true;
}

/** The record a row stands for (what `recordHash` and the tamper classifier take). */
export function scanRowToRecord(r: AuditScanRow): AuditRecord {
  return {
    action: r[0], actor: r[1], actorKind: r[2], chain: r[3], clientAddress: r[4], decisionId: r[5], details: r[6], event: r[7],
    eventId: r[8], instance: r[9], outcome: r[10] as AuditOutcome, prevHash: r[11], reasons: r[12], requestId: r[13], resource: r[14],
    time: r[15], traceId: r[16], seq: r[17], hash: r[18],
  };
}

const PROBE: AuditScanRow = [
  'gateway.request', 'ålice "q" \\', null, 'main', '192.0.2.1', null, '{"a":[1,{"b":null}],"c":"\\n\u2028😀"}', 'gateway.request',
  '0199c3a0-0000-7000-8000-000000000001', 'gw-1', 'success', '0'.repeat(64), '["r"]', 'r1', 'route:inbox GET /', 1_790_000_000_123,
  '\u0000\u001f', 1, '',
];
/** False when hash.ts no longer writes what {@link canonicalText} writes (tests require true). */
export const FAST_ROW_HASH = canonicalText(PROBE) === hashInput(scanRowToRecord(PROBE));

/** Hex SHA-256 of the row's record: always equal to `recordHash` of that record. */
export function scanRowHash(r: AuditScanRow): string {
  if (FAST_ROW_HASH && flat(r)) return hash('sha256', canonicalText(r), 'hex');
  return recordHash(scanRowToRecord(r));
}
