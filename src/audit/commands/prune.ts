/** `gatehouse audit prune [--older-than DAYS]`: retention now (normally run hourly by each instance). */
import type { AuditConfig } from '../../core/config/audit-schema.ts';
import { GatehouseError } from '../../core/errors.ts';
import type { Store } from '../../store/types.ts';
import { applyRetention, type RetentionResult } from '../retention.ts';

export async function auditPruneCommand(store: Store, config: AuditConfig, options: { olderThanDays?: number } = {}): Promise<RetentionResult> {
  const days = options.olderThanDays ?? config.retention.maxAgeDays;
  if (!(days > 0)) throw new GatehouseError('ERR_AUDIT_QUERY_INVALID', { detail: 'no retention configured (audit.retention.maxAgeDays) and no --older-than given' });
  return applyRetention(store, { chain: config.chain, maxAgeMs: days * 86_400_000 });
}
