/**
 * Adding and lifting blocks: stored (shared by every instance on the store) and announced
 * on the bus (every instance's block check applies it at once). Used by the detector and
 * by the admin commands (`gatehouse alerts block|unblock`).
 */
import { randomUUIDv7 } from 'node:crypto';
import type { EventBus } from '../bus/types.ts';
import { GatehouseError } from '../core/errors.ts';
import { blockCovers, canonicalBlockAddress, MIN_BLOCK_PREFIX, MIN_BLOCK_PREFIX_V4 } from '../gateway/http/client-network.ts';
import { createDetectRepo, type DetectRepo } from '../store/repos/detect-repo.ts';
import type { Store } from '../store/types.ts';
import { subjectKey } from './subject-key.ts';
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
 * Validates, stores and announces a block. An address block is an IP address, an IPv6 prefix
 * from /32 to /64 (`2001:db8:1:2::/64`, `2001:db8:1::/48`) or an IPv4 prefix from /8 to /32
 * (`198.51.100.0/24`); a subject is a principal id of any length (a long one is stored under
 * its digest, as detection counts it). Throws ERR_DETECT_BLOCK_INVALID for a bad value or duration.
 */
export async function addBlock(store: Store, bus: EventBus | undefined, b: NewBlock): Promise<Block> {
  const value = blockValue(b.kind, b.value);
  if (!Number.isSafeInteger(b.durationMs) || b.durationMs < 1000 || b.durationMs > 365 * 86_400_000) throw new GatehouseError('ERR_DETECT_BLOCK_INVALID', { detail: 'duration must be between 1 s and 365 days' });
  const now = b.now ?? Date.now();
  const block: Block = {
    id: `blk_${randomUUIDv7()}`, kind: b.kind, value, reason: b.reason.slice(0, 200), alertId: b.alertId ?? null,
    createdBy: b.createdBy, createdAt: now, expiresAt: now + b.durationMs, liftedAt: null, liftedBy: null,
  };
  await createDetectRepo(store.db).insertBlock(block);
  bus?.publish('detect.block.added', {
    blockId: block.id, kind: block.kind, value: block.value, reason: block.reason, createdBy: block.createdBy,
    expiresAt: new Date(block.expiresAt).toISOString(), ...(block.alertId ? { alertId: block.alertId } : {}),
  });
  return block;
}

/** Longest subject an admin may name (a principal id; bearer tokens are at most 8 KiB). */
const MAX_SUBJECT_INPUT = 16_384;

/**
 * The value a block on (kind, value) is stored and matched under: an address as the client's
 * requests spell it (any way of writing it matches), a subject as the block stage looks it up
 * (a long principal id by its digest, subject-key.ts). Throws ERR_DETECT_BLOCK_INVALID for a
 * value no block can be on, for `unblock` as for `block`: answered "no active block matched",
 * a mistyped address (a /16 for a blocked /64) let the operator believe the client was free.
 */
function blockValue(kind: BlockKind, value: string): string {
  if (kind === 'address') {
    const address = canonicalBlockAddress(value);
    if (address === undefined) throw new GatehouseError('ERR_DETECT_BLOCK_INVALID', { detail: `not an IP address, IPv6 prefix /${MIN_BLOCK_PREFIX}…/64 or IPv4 prefix /${MIN_BLOCK_PREFIX_V4}…/32: ${JSON.stringify(value.slice(0, 64))}` });
    return address;
  }
  if (kind !== 'subject') throw new GatehouseError('ERR_DETECT_BLOCK_INVALID', { detail: 'kind must be address or subject' });
  if (value.length === 0 || value.length > MAX_SUBJECT_INPUT) throw new GatehouseError('ERR_DETECT_BLOCK_INVALID', { detail: `subject must be 1..${MAX_SUBJECT_INPUT} characters` });
  return subjectKey(value);
}

/**
 * Lifts one block by id, or every active block on (kind, value). Returns the lifted blocks.
 *
 * An address lifts every active block it covers: a prefix its own block and each narrower
 * one inside it (an IPv6 /48 its /56s, /64s and single addresses, an IPv4 /16 its /24s and
 * addresses), as an operator freeing a customer's
 * prefix means. Matched exactly, a /48 lifted nothing while detection held a /64 of it, and the
 * operator was told "no active block matched". An address or prefix that a wider active block
 * holds is refused with ERR_DETECT_BLOCK_COVERED naming that block, and nothing is lifted:
 * lifting the narrower blocks would leave its clients refused all the same, and lifting the
 * wider one would free its neighbours too, which the operator did not ask for.
 */
export async function liftBlocks(store: Store, bus: EventBus | undefined, target: { id: string } | { kind: BlockKind; value: string }, by: string): Promise<Block[]> {
  const repo = createDetectRepo(store.db);
  const now = Date.now();
  let lifted: Block[];
  if ('id' in target) lifted = [await repo.liftBlock(target.id, by, now)].filter((b): b is Block => b !== undefined);
  else if (target.kind === 'address') lifted = await liftAddressBlocks(repo, blockValue('address', target.value), by, now);
  else lifted = await repo.liftBlocks(target.kind, blockValue(target.kind, target.value), by, now);
  for (const b of lifted) bus?.publish('detect.block.lifted', { blockId: b.id, kind: b.kind, value: b.value, liftedBy: by });
  return lifted;
}

async function liftAddressBlocks(repo: DetectRepo, value: string, by: string, now: number): Promise<Block[]> {
  // Rows of older versions may spell an address otherwise: compared as the block check keys them.
  const active = (await repo.activeBlocks(now)).filter((b) => b.kind === 'address').map((b) => ({ block: b, value: canonicalBlockAddress(b.value) ?? b.value }));
  const covering = active.filter((a) => a.value !== value && blockCovers(a.value, value));
  if (covering.length > 0) {
    const named = covering.map((a) => `${a.value} (${a.block.id}, until ${new Date(a.block.expiresAt).toISOString()})`).join(', ');
    throw new GatehouseError('ERR_DETECT_BLOCK_COVERED', {
      publicMessage: `${value} is inside the active block ${named}; nothing was lifted. Lifting ${value} alone would leave it blocked: lift the covering block with --id (which frees every client in it) or wait for it to expire`,
      data: { value, covering: covering.map((a) => a.block.id) },
    });
  }
  return repo.liftActiveBlocks(active.filter((a) => blockCovers(value, a.value)).map((a) => a.block.id), by, now);
}
