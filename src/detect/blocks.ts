/**
 * Adding and lifting blocks: stored (shared by every instance on the store) and announced
 * on the bus (every instance's block check applies it at once). Used by the detector and
 * by the admin commands (`gatehouse alerts block|unblock`).
 */
import { randomUUIDv7 } from 'node:crypto';
import type { EventBus } from '../bus/types.ts';
import { GatehouseError } from '../core/errors.ts';
import { canonicalBlockAddress } from '../gateway/http/client-network.ts';
import { createDetectRepo } from '../store/repos/detect-repo.ts';
import type { Store } from '../store/types.ts';
import type { Block, BlockKind } from './types.ts';

export interface NewBlock {
  kind: BlockKind;
  value: string;
  reason: string;
  durationMs: number;
  createdBy: string;
  alertId?: string;
  now?: number;
}

/**
 * Validates, stores and announces a block. An address block is an IP address or an IPv6 /64
 * (`2001:db8:1:2::/64`). Throws ERR_DETECT_BLOCK_INVALID for a bad address or duration.
 */
export async function addBlock(store: Store, bus: EventBus | undefined, b: NewBlock): Promise<Block> {
  // Stored as the client's requests spell it, so any way of writing the address matches.
  const address = b.kind === 'address' ? canonicalBlockAddress(b.value) : undefined;
  if (b.kind === 'address' && address === undefined) throw new GatehouseError('ERR_DETECT_BLOCK_INVALID', { detail: `not an IP address or IPv6 /64: ${JSON.stringify(b.value.slice(0, 64))}` });
  if (b.kind === 'subject' && (b.value.length === 0 || b.value.length > 512)) throw new GatehouseError('ERR_DETECT_BLOCK_INVALID', { detail: 'subject must be 1..512 characters' });
  if (!Number.isSafeInteger(b.durationMs) || b.durationMs < 1000 || b.durationMs > 365 * 86_400_000) throw new GatehouseError('ERR_DETECT_BLOCK_INVALID', { detail: 'duration must be between 1 s and 365 days' });
  const now = b.now ?? Date.now();
  const block: Block = {
    id: `blk_${randomUUIDv7()}`, kind: b.kind, value: address ?? b.value, reason: b.reason.slice(0, 200), alertId: b.alertId ?? null,
    createdBy: b.createdBy, createdAt: now, expiresAt: now + b.durationMs, liftedAt: null, liftedBy: null,
  };
  await createDetectRepo(store.db).insertBlock(block);
  bus?.publish('detect.block.added', {
    blockId: block.id, kind: block.kind, value: block.value, reason: block.reason, createdBy: block.createdBy,
    expiresAt: new Date(block.expiresAt).toISOString(), ...(block.alertId ? { alertId: block.alertId } : {}),
  });
  return block;
}

/** Lifts one block by id, or every active block on (kind, value). Returns the lifted blocks. */
export async function liftBlocks(store: Store, bus: EventBus | undefined, target: { id: string } | { kind: BlockKind; value: string }, by: string): Promise<Block[]> {
  const repo = createDetectRepo(store.db);
  const now = Date.now();
  let lifted: Block[];
  if ('id' in target) lifted = [await repo.liftBlock(target.id, by, now)].filter((b): b is Block => b !== undefined);
  else lifted = await repo.liftBlocks(target.kind, target.kind === 'address' ? canonicalBlockAddress(target.value) ?? target.value : target.value, by, now);
  for (const b of lifted) bus?.publish('detect.block.lifted', { blockId: b.id, kind: b.kind, value: b.value, liftedBy: by });
  return lifted;
}
