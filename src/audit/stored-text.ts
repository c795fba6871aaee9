/**
 * SQLite stores whatever bytes a text column is given, also bytes that are not UTF-8, and reads
 * them back with each bad sequence as U+FFFD. So a record whose values hold U+FFFD (a lone
 * surrogate in a user name is stored as one, storable.ts) can be rewritten as other bytes that read
 * as the very same text: its hash still matches, yet SQL compares the bytes, and the record no
 * longer matches a query for its actor, request id or action. A value that reads as U+FFFD is
 * therefore checked against its stored bytes. (PostgreSQL refuses bytes that are not UTF-8.)
 */
import { auditRecordTextBytes, SCAN_TEXT_FIELDS, type AuditScanRow } from '../store/repos/audit-scan.ts';
import type { Store } from '../store/types.ts';

/** True when a text value of the row reads as U+FFFD (rare: only those need their bytes checked). */
export function readsAsReplacement(r: AuditScanRow): boolean {
  for (const i of SCAN_TEXT_FIELDS) {
    const v: unknown = r[i];
    if (typeof v === 'string' && v.includes('\uFFFD')) return true;
  }
  return false;
}

/** True when every text value of the row is stored as exactly its UTF-8 bytes. */
export async function storedAsRead(store: Store, r: AuditScanRow): Promise<boolean> {
  const bytes = await auditRecordTextBytes(store.db, r[3], r[17]);
  if (!bytes) return false;
  const encoder = new TextEncoder();
  return SCAN_TEXT_FIELDS.every((field, k) => {
    const v: unknown = r[field];
    const stored = bytes[k];
    if (v === null || stored === null || stored === undefined) return v === null && stored === null;
    return Buffer.from(encoder.encode(String(v))).equals(stored);
  });
}
