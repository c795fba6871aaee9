/**
 * Reading the audit log: filtered, keyset-paginated iteration over records, and the
 * record as it is shown (JSON lines) with `reasons` and `details` parsed.
 */
import { GatehouseError } from '../core/errors.ts';
import { parseIsoTime } from '../core/iso-time.ts';
import { createAuditRepo, type AuditQueryFilter } from '../store/repos/audit-repo.ts';
import type { Store } from '../store/types.ts';
import type { AuditRecord } from './record.ts';

export interface AuditQuery {
  since?: Date;
  until?: Date;
  /** One actor, or any of several names of the same principal (see commands/actor-names.ts). */
  actor?: string | readonly string[];
  action?: string;
  outcome?: string;
  event?: string;
  requestId?: string;
  chain?: string;
  /** Most records returned (default: all). */
  limit?: number;
}

/** A record for output: the stored fields with `time` as ISO 8601 and JSON columns parsed. */
export interface AuditRecordView {
  chain: string;
  seq: number;
  time: string;
  instance: string;
  event: string;
  eventId: string;
  requestId: string | null;
  traceId: string | null;
  actor: { subject: string | null; kind: string | null };
  action: string;
  resource: string | null;
  outcome: string;
  decisionId: string | null;
  reasons: unknown;
  clientAddress: string | null;
  details: unknown;
  prevHash: string;
  hash: string;
  /** Set on output when the current redaction rules cut more than those the record was written under (export/re-redact.ts). */
  reRedacted?: true;
}

/**
 * ISO 8601, or `invalid time <n>` for a stored time no Date can hold (beyond ±8.64e15 ms: only a
 * row edited in the database): toISOString threw, and one such row stopped every query and export
 * at it, the ones an investigation of that tampering needs.
 */
function viewTime(t: number): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? `invalid time ${String(t)}` : d.toISOString();
}

export function viewRecord(r: AuditRecord): AuditRecordView {
  return {
    chain: r.chain, seq: r.seq, time: viewTime(r.time), instance: r.instance, event: r.event, eventId: r.eventId,
    requestId: r.requestId, traceId: r.traceId, actor: { subject: r.actor, kind: r.actorKind }, action: r.action, resource: r.resource,
    outcome: r.outcome, decisionId: r.decisionId, reasons: r.reasons === null ? null : safeParse(r.reasons), clientAddress: r.clientAddress,
    details: safeParse(r.details), prevHash: r.prevHash, hash: r.hash,
  };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Parses a CLI time: ISO 8601 (a time of day with `Z` or an offset), or a duration back from
 * now (`15m`, `2h`, `7d`). Throws ERR_AUDIT_QUERY_INVALID for anything else, including days that do not exist
 * (Date.parse rolls `2026-02-30` over to 2 March) and durations before the earliest date.
 */
export function parseTime(value: string, now = Date.now()): Date {
  const invalid = () => new GatehouseError('ERR_AUDIT_QUERY_INVALID', { detail: `not a time: ${JSON.stringify(value.slice(0, 40))} (use ISO 8601 or 15m / 2h / 7d)` });
  const rel = /^(\d{1,9})(s|m|h|d)$/.exec(value);
  if (rel) {
    const t = new Date(now - Number(rel[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[rel[2] as 's' | 'm' | 'h' | 'd']);
    if (Number.isNaN(t.getTime())) throw invalid();
    return t;
  }
  const t = parseIsoTime(value);
  if (t === undefined) throw invalid();
  // A time of day needs its zone: Date.parse reads one without as local time (a date alone as
  // UTC, and records are shown in UTC), so the same command line meant another range on a
  // machine set to another zone, and an investigation silently missed the hour it was after.
  if (/[Tt ]\d/.test(value) && !/(?:[Zz]|[+-]\d\d:\d\d)$/.test(value)) {
    throw new GatehouseError('ERR_AUDIT_QUERY_INVALID', { detail: `time without a zone: ${JSON.stringify(value.slice(0, 40))} (end it with Z for UTC, or an offset such as +02:00)` });
  }
  return new Date(t);
}

/** Iterates matching records in (chain, seq) order, a page at a time. */
export async function* queryAudit(store: Store, q: AuditQuery, pageSize = 1000): AsyncGenerator<AuditRecord> {
  const repo = createAuditRepo(store.db, store.dialect);
  let remaining = q.limit ?? Number.POSITIVE_INFINITY;
  let after: AuditQueryFilter['after'];
  while (remaining > 0) {
    const filter: AuditQueryFilter = { limit: Math.min(pageSize, remaining) };
    if (q.chain !== undefined) filter.chain = q.chain;
    if (q.since) filter.since = q.since.getTime();
    if (q.until) filter.until = q.until.getTime();
    if (q.actor !== undefined) filter.actor = typeof q.actor === 'string' ? [q.actor] : q.actor;
    if (q.action !== undefined) filter.action = q.action;
    if (q.outcome !== undefined) filter.outcome = q.outcome;
    if (q.event !== undefined) filter.event = q.event;
    if (q.requestId !== undefined) filter.requestId = q.requestId;
    if (after) filter.after = after;
    const page = await repo.query(filter);
    for (const r of page) yield r;
    if (page.length < filter.limit) return;
    remaining -= page.length;
    const last = page[page.length - 1]!;
    after = { chain: last.chain, seq: last.seq };
  }
}
