/**
 * Records leave (`audit export`, `audit query`) redacted again by the rules in force now, the
 * built-in ones of this version and `audit.redact` as configured: a record written under older,
 * weaker rules (a secret shape a later release or an operator's pattern learned to recognize)
 * must not carry that secret to a SIEM. The stored record is not touched — its bytes are what
 * the hash chain covers — so an exported record whose values were cut again no longer hashes to
 * its `hash`; it says so with `reRedacted: true`, and `audit verify` checks the stored one.
 */
import { detailsOf } from '../map-event.ts';
import type { AuditRecordView } from '../query.ts';
import type { Redactor } from '../redact.ts';

const text = (v: string | null, redactor: Redactor): string | null => (v === null ? null : redactor.string(v));

/** The view with every column taken from an event's payload redacted again; the same object when nothing changed. */
export function reRedactView(view: AuditRecordView, redactor: Redactor): AuditRecordView {
  const next: AuditRecordView = {
    ...view,
    requestId: text(view.requestId, redactor),
    traceId: text(view.traceId, redactor),
    actor: { subject: text(view.actor.subject, redactor), kind: view.actor.kind },
    resource: text(view.resource, redactor),
    decisionId: text(view.decisionId, redactor),
    reasons: view.reasons === null ? null : redactor.value(view.reasons),
    clientAddress: text(view.clientAddress, redactor),
    details: detailsOf(view.event, view.details, redactor),
  };
  // Compared as JSON: the walk copies objects even when it cuts nothing.
  const changed = next.requestId !== view.requestId || next.traceId !== view.traceId || next.actor.subject !== view.actor.subject
    || next.resource !== view.resource || next.decisionId !== view.decisionId || next.clientAddress !== view.clientAddress
    || JSON.stringify(next.reasons) !== JSON.stringify(view.reasons) || JSON.stringify(next.details) !== JSON.stringify(view.details);
  return changed ? { ...next, reRedacted: true } : view;
}
