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
 * How long a finished approval stays in the table (`gatehouse approvals list|show`), without
 * its body, which went when it finished. Every request, decision and use is also in the audit
 * log, which keeps its own retention.
 */
export const RETAIN_MS = 30 * 86_400_000;
const PRUNE_INTERVAL_MS = 3_600_000;
/**
 * How often approvals past their deadline are marked expired, erasing their held bodies: a
 * body is kept at most this long after its approval could last be used (sooner when a use,
 * decision or view meets it first).
 */
export const SWEEP_INTERVAL_MS = 60_000;

export function approvalsExtension(platform: { store: Store; bus: EventBus; logger: Logger }, stages: { authenticate: Stage; blockIdentity?: Stage | undefined }): GatewayExtension {
  const logger = platform.logger.child({ component: 'approvals' });
  const repo = createApprovalsRepo(platform.store.db);
  const approve = createApproveStage({ repo, bus: platform.bus, logger });
  const api = createApprovalsApi({ repo, bus: platform.bus, authenticate: stages.authenticate, blockIdentity: stages.blockIdentity, logger });
  let pruneTimer: NodeJS.Timeout | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  const sweep = async () => {
    try {
      const { expired, erased } = await repo.sweep(Date.now());
      if (expired > 0 || erased > 0) logger.info({ expired, erased }, 'approvals past their deadline expired, their bodies erased');
    } catch (err) {
      logger.warn({ err }, 'approvals sweep failed; retried at the next interval');
    }
  };
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
      // Every instance sweeps and prunes; both are conditional and idempotent, so several doing it at once is harmless.
      sweepTimer = setInterval(() => { void sweep(); }, SWEEP_INTERVAL_MS).unref();
      pruneTimer = setInterval(() => { void prune(); }, PRUNE_INTERVAL_MS).unref();
      void sweep().then(prune);
    },
    async stop() { clearInterval(sweepTimer); clearInterval(pruneTimer); },
  };
}
