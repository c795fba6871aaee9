/** Command functions behind `gatehouse alerts …`: list alerts, list / add / lift blocks. */
import type { EventBus } from '../../bus/types.ts';
import { parseTime } from '../../audit/query.ts';
import { createDetectRepo } from '../../store/repos/detect-repo.ts';
import type { Store } from '../../store/types.ts';
import { GatehouseError, isGatehouseError } from '../../core/errors.ts';
import { addBlock, liftBlocks } from '../blocks.ts';
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

export function blockAddCommand(store: Store, bus: EventBus, o: { kind: BlockKind; value: string; durationMs: number; reason: string; by: string }): Promise<Block> {
  return addBlock(store, bus, { kind: o.kind, value: o.value, durationMs: o.durationMs, reason: o.reason, createdBy: `admin:${o.by}` });
}

export function blockLiftCommand(store: Store, bus: EventBus, target: { id: string } | { kind: BlockKind; value: string }, by: string): Promise<Block[]> {
  return liftBlocks(store, bus, target, `admin:${by}`);
}
