/**
 * Pipeline stages that enforce blocks: `blockAddress` (before authentication, with the
 * shield checks) refuses a blocked client address; `blockIdentity` (after
 * authentication) refuses a blocked subject. Both answer 403 ERR_SHIELD_BLOCKED and say
 * nothing about why on the wire; the block id goes to the log and the access record.
 */
import { GatehouseError } from '../core/errors.ts';
import type { Stage } from '../gateway/context.ts';
import type { BlockCheck } from './block-check.ts';
import { subjectKey } from './subject-key.ts';

export function createBlockStages(check: BlockCheck): { blockAddress: Stage; blockIdentity: Stage } {
  return {
    blockAddress: function blockAddress(ctx) {
      const hit = check.isBlocked(ctx.clientAddress);
      if (hit) throw new GatehouseError('ERR_SHIELD_BLOCKED', { detail: `address blocked until ${new Date(hit.expiresAt).toISOString()} (block ${hit.id})`, data: { blockId: hit.id } });
    },
    blockIdentity: function blockIdentity(ctx) {
      const subject = ctx.identity?.subject;
      if (!subject) return;
      // The key detection blocks it under (a long id by its digest); another issuer's principal is `<issuer>#<sub>`.
      const hit = check.isBlocked(undefined, subjectKey(subject));
      if (hit) throw new GatehouseError('ERR_SHIELD_BLOCKED', { detail: `identity blocked until ${new Date(hit.expiresAt).toISOString()} (block ${hit.id})`, data: { blockId: hit.id } });
    },
  };
}
