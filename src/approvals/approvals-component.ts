/**
 * Two-person approvals as one gateway component: fills the `approve` slot and serves the
 * approver's API under /_gatehouse/approvals/ (docs/approvals.md).
 *
 * @example
 *   // src/gateway/compose.ts, after authn:
 *   extensions.push(approvalsExtension(platform, authn.authn.stage));
 */
import type { Logger } from 'pino';
import type { EventBus } from '../bus/types.ts';
import type { Stage } from '../gateway/context.ts';
import type { GatewayExtension } from '../gateway/gateway.ts';
import type { Store } from '../store/types.ts';
import { createApprovalsRepo } from '../store/repos/approvals-repo.ts';
import { createApproveStage } from './approve-stage.ts';
import { createApprovalsApi } from './approvals-api.ts';

export function approvalsExtension(platform: { store: Store; bus: EventBus; logger: Logger }, authenticate: Stage): GatewayExtension {
  const logger = platform.logger.child({ component: 'approvals' });
  const repo = createApprovalsRepo(platform.store.db);
  const approve = createApproveStage({ repo, bus: platform.bus, logger });
  const api = createApprovalsApi({ repo, bus: platform.bus, authenticate, logger });
  return {
    name: 'approvals',
    stages: () => ({ approve }),
    internalHandlers: () => [api],
  };
}
