/** `gatehouse audit query`: matching records as JSON lines. */
import type { Writable } from 'node:stream';
import { GatehouseError } from '../../core/errors.ts';
import type { Store } from '../../store/types.ts';
import { createAuditRepo } from '../../store/repos/audit-repo.ts';
import { AUDIT_OUTCOMES } from '../record.ts';
import { createRedactor, type RedactionConfig } from '../redact.ts';
import { exportAudit } from '../export/export.ts';
import { jsonLinesSink } from '../export/json-lines.ts';
import { parseTime, type AuditQuery } from '../query.ts';
import { printable } from './printable.ts';
import { actorNames } from './actor-names.ts';

/** CLI-level filter: times as text (ISO 8601 or `15m`/`2h`/`7d` back from now). */
export interface AuditQueryOptions {
  since?: string;
  until?: string;
  actor?: string;
  action?: string;
  outcome?: string;
  event?: string;
  requestId?: string;
  chain?: string;
  limit?: number;
}

/** Parses CLI filter options; throws ERR_AUDIT_QUERY_INVALID on a bad time or outcome, or an empty time range. */
export function toAuditQuery(o: AuditQueryOptions): AuditQuery {
  const q: AuditQuery = {};
  // One "now" for both: `--since 1h --until 1h` is the empty range it says, not a microsecond.
  const now = Date.now();
  if (o.since !== undefined) q.since = parseTime(o.since, now);
  if (o.until !== undefined) q.until = parseTime(o.until, now);
  // Swapped bounds (`--since 1h --until 2h`) match nothing, which reads as "nothing happened".
  if (q.since && q.until && q.since.getTime() >= q.until.getTime()) {
    throw new GatehouseError('ERR_AUDIT_QUERY_INVALID', { detail: `--since ${q.since.toISOString()} is not before --until ${q.until.toISOString()} (--until is exclusive)` });
  }
  // A misspelt outcome ('deny', 'denial') would match nothing and read as "nothing was denied".
  if (o.outcome !== undefined && !(AUDIT_OUTCOMES as readonly string[]).includes(o.outcome)) {
    throw new GatehouseError('ERR_AUDIT_QUERY_INVALID', { detail: `not an outcome: ${JSON.stringify(o.outcome.slice(0, 40))} (use ${AUDIT_OUTCOMES.join(' | ')})` });
  }
  for (const k of ['actor', 'action', 'outcome', 'event', 'requestId', 'chain'] as const) if (o[k] !== undefined) q[k] = o[k];
  if (o.limit !== undefined) q.limit = o.limit;
  return q;
}

/**
 * Refuses a `--chain` that no record, head or checkpoint carries: a misspelt name printed
 * nothing and exited 0, which reads as "nothing happened on that chain".
 */
export async function checkChain(store: Store, chain: string | undefined): Promise<void> {
  if (chain === undefined) return;
  const known = await createAuditRepo(store.db, store.dialect).chains();
  if (!known.includes(chain)) {
    throw new GatehouseError('ERR_AUDIT_QUERY_INVALID', { detail: `no audit chain ${JSON.stringify(chain.slice(0, 64))}; chains: ${printable(known.join(', ')) || 'none'}` });
  }
}

/**
 * The query the options ask for, checked against the store: the chain must exist, and an actor
 * matches every name its principal is recorded under ({@link actorNames}).
 */
export async function resolveAuditQuery(store: Store, options: AuditQueryOptions): Promise<AuditQuery> {
  const query = toAuditQuery(options);
  await checkChain(store, options.chain);
  if (options.actor !== undefined) query.actor = await actorNames(store, options.actor);
  return query;
}

/**
 * Writes matching records to `out`, one JSON object a line, redacted again by the current rules
 * (built-in and `redact`, the configured `audit.redact`: export/re-redact.ts); returns the count.
 */
export async function auditQueryCommand(store: Store, options: AuditQueryOptions, out: Writable, redact: RedactionConfig = {}): Promise<number> {
  const query = await resolveAuditQuery(store, options);
  return exportAudit(store, query, jsonLinesSink(out), createRedactor(redact));
}
