/**
 * Makes a draft storable on every backend before it is spooled and hashed. PostgreSQL's
 * text type cannot hold NUL, and a lone UTF-16 surrogate has no UTF-8 form (a driver would
 * store U+FFFD, so the stored text would no longer match its hash, and the canonical JSON
 * refuses it). Either would fail its batch on every retry and block the chain behind it —
 * an attacker who can put such a character in a user name or token subject could stop the
 * audit log. So both are replaced by U+FFFD, once, before anything is written: the spool,
 * the hash and the row all see the same text.
 */
import type { AuditDraft } from './record.ts';

const REPLACEMENT = '\uFFFD';

function storableText(v: string): string {
  const w = v.toWellFormed();
  return w.includes('\0') ? w.replaceAll('\0', REPLACEMENT) : w;
}

const clean = (v: string | null): boolean => v === null || (v.isWellFormed() && !v.includes('\0'));

const TEXT_FIELDS = ['instance', 'event', 'eventId', 'requestId', 'traceId', 'actor', 'actorKind', 'action', 'resource', 'decisionId', 'reasons', 'clientAddress', 'details'] as const;

/** The draft itself when every text field is storable (the common case: no copy), else a repaired copy. */
export function storableDraft(d: AuditDraft): AuditDraft {
  let fine = true;
  for (const f of TEXT_FIELDS) if (!clean(d[f])) { fine = false; break; }
  if (fine) return d;
  const out: AuditDraft = { ...d };
  for (const f of TEXT_FIELDS) {
    const v = d[f];
    if (typeof v === 'string' && !clean(v)) (out as unknown as Record<string, string>)[f] = storableText(v);
  }
  return out;
}
