/**
 * Two-person approvals as one gateway component: fills the `approve` slot and serves the
 * approver's API under /_gatehouse/approvals/ (docs/approvals.md).
 *
 * @example
 *   // src/gateway/compose.ts, after authn:
 *   extensions.push(approvalsExtension(platform, { authenticate: authn.authn.stage, blockIdentity: detect.blockStages.blockIdentity }));
 */
import type { Logger } from 'pino';
import type { EventBus } from '../bus/types.ts';
import type { Stage } from '../gateway/context.ts';
import type { GatewayExtension } from '../gateway/gateway.ts';
import type { Store } from '../store/types.ts';
import { createApprovalsRepo } from '../store/repos/approvals-repo.ts';
import { createApproveStage } from './approve-stage.ts';
import { createApprovalsApi } from './approvals-api.ts';

/**
 * How long a finished approval stays in the table (`gatehouse approvals list|show`). Every
 * request, decision and use is also in the audit log, which keeps its own retention.
 */
export const RETAIN_MS = 30 * 86_400_000;
const PRUNE_INTERVAL_MS = 3_600_000;

export function approvalsExtension(platform: { store: Store; bus: EventBus; logger: Logger }, stages: { authenticate: Stage; blockIdentity?: Stage | undefined }): GatewayExtension {
  const logger = platform.logger.child({ component: 'approvals' });
  const repo = createApprovalsRepo(platform.store.db);
  const approve = createApproveStage({ repo, bus: platform.bus, logger });
  const api = createApprovalsApi({ repo, bus: platform.bus, authenticate: stages.authenticate, blockIdentity: stages.blockIdentity, logger });
  let pruneTimer: NodeJS.Timeout | undefined;
  const prune = async () => {
    try {
      const removed = await repo.prune(Date.now() - RETAIN_MS);
      if (removed > 0) logger.info({ removed }, 'old approvals pruned');
    } catch (err) {
      logger.warn({ err }, 'approvals prune failed; retried at the next interval');
    }
  };
  return {
    name: 'approvals',
    stages: () => ({ approve }),
    internalHandlers: () => [api],
    async start() {
      // Every instance prunes; the DELETE is idempotent, so several doing it at once is harmless.
      pruneTimer = setInterval(() => { void prune(); }, PRUNE_INTERVAL_MS).unref();
      void prune();
    },
    async stop() { clearInterval(pruneTimer); },
  };
}
