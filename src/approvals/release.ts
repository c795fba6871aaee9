/**
 * Giving back an approval whose request was refused before anything of it was sent upstream
 * (the per-identity rate limit, the guard, the identity or enrich stage, or the forward stage
 * before it handed the request to the upstream pool, or the pool before undici started writing it:
 * forward.ts `UpstreamExchange.undo`). The operation did not run, so the approval is not spent:
 * without this a 429 cost the requester a second person's approval.
 *
 * It is disarmed when undici starts writing the request (`onRequestStart`): from then on bytes
 * may have reached the upstream, and the approval stays used whatever happens after — a 502, a
 * timeout, a response cut off midway (fail closed: never run an approved operation twice).
 */
import type { Logger } from 'pino';
import type { EventBus } from '../bus/types.ts';
import type { RefusalUndo } from '../gateway/context.ts';
import type { ApprovalsRepo } from '../store/repos/approvals-repo.ts';
import type { ApprovalBindingFields } from './events.ts';

export interface ReleaseDeps {
  repo: ApprovalsRepo;
  bus: Pick<EventBus, 'publish'>;
  logger: Logger;
}

/**
 * The undo for one use: `approved` again, with the same use window and its body kept again, only
 * while the approval is still used by this request at `usedAt` (one conditional UPDATE: of several
 * instances, none can release a use that is not its own, so a release never lets a second request
 * through).
 *
 * @example
 *   if (await repo.use(id, binding, at, ctx.requestId)) ctx.undoIfRefused = releaseOnRefusal(deps, use, at, body);
 */
export function releaseOnRefusal(deps: ReleaseDeps, use: ApprovalBindingFields & { approver: string }, usedAt: number, body: Buffer): RefusalUndo {
  return async (ctx, error) => {
    try {
      // The use erased the stored body; these are the same bytes (the use matched their digest), kept again for the approvers.
      if (await deps.repo.release(use.approvalId, ctx.requestId, usedAt, body)) {
        deps.bus.publish('approval.released', { ...use, requestId: ctx.requestId, code: error.code, stage: ctx.stage });
        return;
      }
      // Nothing of ours to give back (an operator's hand in the table?): it stays as it is.
      deps.logger.warn({ approvalId: use.approvalId, requestId: ctx.requestId, code: error.code }, 'approval not released: no longer used by this request');
    } catch (err) {
      // Fail closed: an approval that could not be given back stays used; the requester asks again.
      deps.logger.warn({ err, approvalId: use.approvalId, requestId: ctx.requestId, code: error.code }, 'approval could not be released; it stays used');
    }
  };
}
