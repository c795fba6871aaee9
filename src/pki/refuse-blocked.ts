import { GatehouseError } from '../core/errors.ts';
import type { CaContext } from './ca-context.ts';

/**
 * Throws ERR_PKI_IDENTITY_BLOCKED for an identity under a temporary block, and
 * ERR_STORE_UNAVAILABLE when the blocks cannot be read (fail closed). The gateway refuses a
 * blocked identity on its routes, but the CA's endpoints are served before authentication, and
 * a renewed certificate also works between services that never pass the gateway.
 */
export async function refuseBlocked(ca: CaContext, spiffeId: string): Promise<void> {
  if (!ca.subjectBlocks) return;
  let block;
  try {
    block = await ca.subjectBlocks.blockOn(spiffeId);
  } catch (cause) {
    throw new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: `cannot check the blocks of ${spiffeId}; refused`, cause, data: { spiffeId } });
  }
  if (block) throw new GatehouseError('ERR_PKI_IDENTITY_BLOCKED', { detail: `${spiffeId} is blocked until ${new Date(block.expiresAt).toISOString()} (block ${block.id})`, data: { spiffeId, blockId: block.id } });
}
