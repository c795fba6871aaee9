/** Command functions behind `gatehouse alerts …`: list alerts, list / add / lift blocks. */
import { parseTime } from '../../audit/query.ts';
import { createDetectRepo } from '../../store/repos/detect-repo.ts';
import type { Store } from '../../store/types.ts';
import { GatehouseError, isGatehouseError } from '../../core/errors.ts';
import { addBlock, liftBlocks } from '../blocks.ts';
import { withAdminAudit, type AdminContext } from './admin-audit.ts';
import type { Alert, Block, BlockKind } from '../types.ts';

/** Throws ERR_DETECT_QUERY_INVALID for a `--since` that is not a time. */
export async function alertsListCommand(store: Store, o: { since?: string; limit?: number }): Promise<Alert[]> {
  return createDetectRepo(store.db).listAlerts({ limit: o.limit ?? 100, ...(o.since ? { since: sinceOf(o.since) } : {}) });
}

/** The audit query's time syntax, under this area's code: an alerts query said ERR_AUDIT_QUERY_INVALID. */
function sinceOf(value: string): number {
  try {
    return parseTime(value).getTime();
  } catch (err) {
    if (!isGatehouseError(err) || err.code !== 'ERR_AUDIT_QUERY_INVALID') throw err;
    throw new GatehouseError('ERR_DETECT_QUERY_INVALID', { ...(err.detail ? { detail: `--since: ${err.detail}` } : {}), cause: err });
  }
}

export function blockListCommand(store: Store, o: { all: boolean }): Promise<Block[]> {
  return createDetectRepo(store.db).listBlocks({ includeInactive: o.all, now: Date.now(), limit: 1000 });
}

/** Blocks on every instance; audited in the store's chain also on the in-process bus (admin-audit.ts). */
export function blockAddCommand(ctx: AdminContext, o: { kind: BlockKind; value: string; durationMs: number; reason: string; by: string }): Promise<Block> {
  return withAdminAudit(ctx, () => addBlock(ctx.store, ctx.bus, { kind: o.kind, value: o.value, durationMs: o.durationMs, reason: o.reason, createdBy: `admin:${o.by}` }));
}

/** Lifts blocks on every instance; audited as {@link blockAddCommand} is. */
export function blockLiftCommand(ctx: AdminContext, target: { id: string } | { kind: BlockKind; value: string }, by: string): Promise<Block[]> {
  return withAdminAudit(ctx, () => liftBlocks(ctx.store, ctx.bus, target, `admin:${by}`));
}
