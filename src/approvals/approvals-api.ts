/**
 * The approver's API on the public listener, authenticated like the route the approval is
 * for (the authn component's own authenticate stage runs with that route, so the same
 * credentials, issuers, DPoP and the cross-site refusal for browser sessions apply, and the
 * route's `ipRules`):
 *
 *   GET  /_gatehouse/approvals/<id>          what exactly is asked, with the held body (requester or approver)
 *   POST /_gatehouse/approvals/<id>/approve  a second person with an approver role approves
 *   POST /_gatehouse/approvals/<id>/deny     … or denies
 *
 * The requester can never decide their own request, and only a person (a `user` principal)
 * decides: a service holding an approver role does not. A decision is one conditional UPDATE on
 * a still pending, unexpired approval: of two approvers racing, one decides.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { GatehouseError } from '../core/errors.ts';
import type { EventBus } from '../bus/types.ts';
import type { RequestContext, Stage } from '../gateway/context.ts';
import type { InternalHandler } from '../gateway/internal-handler.ts';
import type { ApprovalRow, ApprovalsRepo } from '../store/repos/approvals-repo.ts';
import { checkIpRules } from '../gateway/pipeline/shield.ts';
import { isApprovalId } from './approval-id.ts';
import { approvalView } from './approval-view.ts';
import { stepUpShortfall } from '../authn/step-up-stage.ts';
import { MFA_ACR } from '../authn/session/login-flow.ts';

export const APPROVALS_PREFIX = '/_gatehouse/approvals/';
const PATH = /^\/_gatehouse\/approvals\/([^/]+)(?:\/(approve|deny))?$/;

export interface ApprovalsApiDeps {
  repo: ApprovalsRepo;
  bus: Pick<EventBus, 'publish'>;
  /** The authn component's authenticate stage. */
  authenticate: Stage;
  /** Detection's identity block stage: a blocked subject decides nothing (as it reaches no route). */
  blockIdentity?: Stage | undefined;
  logger: Logger;
  now?: () => number;
}

/**
 * JSON with `<`, `>` and `&` escaped: the view carries a requester's body, which must not turn
 * into markup in a page that embeds the JSON or a client that sniffs it (the escapes parse back
 * to the same values).
 */
function sendJson(res: ServerResponse, status: number, value: unknown, head: boolean): void {
  const body = JSON.stringify(value).replace(/[<>&]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(head ? undefined : body);
}

export function createApprovalsApi(deps: ApprovalsApiDeps): InternalHandler {
  const now = deps.now ?? Date.now;
  const { repo, bus } = deps;

  async function handle(ctx: RequestContext): Promise<void> {
    const match = PATH.exec(ctx.path);
    if (match === null) throw new GatehouseError('ERR_GATEWAY_ROUTE_NOT_FOUND', { detail: `no approvals endpoint ${ctx.path}` });
    const [, id, action] = match as unknown as [string, string, 'approve' | 'deny' | undefined];
    const allowed = action === undefined ? ['GET', 'HEAD'] : ['POST'];
    if (!allowed.includes(ctx.method)) throw new GatehouseError('ERR_REQUEST_METHOD_NOT_ALLOWED', { headers: { allow: allowed.join(', ') } });
    // Nothing is read from the body; it is drained so the connection stays usable.
    ctx.req.resume();
    // With the held body: the requester and the approvers are shown it (checked below), nobody else.
    const row = isApprovalId(id) ? await repo.getWithBody(id) : undefined;
    if (row === undefined) throw new GatehouseError('ERR_APPROVAL_NOT_FOUND', { detail: `no approval ${id.slice(0, 64)}` });
    const route = ctx.gen.router.routes.find((r) => r.id === row.route_id);
    const approval = route?.config.approval;
    // Fail closed: a route gone or no longer under approval names no approver roles.
    if (route === undefined || approval === undefined) throw new GatehouseError('ERR_APPROVAL_NOT_FOUND', { detail: `route ${row.route_id} of ${id} no longer requires approval` });
    ctx.route = route;
    // The shield ran before this path named a route: a route usable only from some networks is
    // decided only from them too (and, as there, before any identity work).
    if (route.ipRules !== undefined) checkIpRules(ctx, route.ipRules, 'route');
    await deps.authenticate(ctx);
    await deps.blockIdentity?.(ctx);
    const identity = ctx.identity;
    if (identity === undefined) throw new GatehouseError('ERR_AUTHN_REQUIRED', { detail: 'approvals API without an identity' });
    // A second *person*: a service account or workload holding an approver role (often a role
    // shared with policies) is a machine credential, and whoever holds its secret or runs it
    // could approve their own request with it.
    const isApprover = identity.kind === 'user' && identity.roles.some((r) => approval.approverRoles.includes(r));
    const isRequester = identity.subject === row.requester;

    if (action === undefined) {
      if (!isApprover && !isRequester) throw new GatehouseError('ERR_APPROVAL_NOT_APPROVER', { detail: `${identity.subject} may not view ${id}` });
      // Past its deadline and not swept yet: expired now, which erases the body, rather than shown once more.
      const at = now();
      let shown = row;
      if (approvalView(row, at).status === 'expired' && row.status !== 'expired' && await repo.expire(id, at)) shown = await repo.getWithBody(id) ?? row;
      sendJson(ctx.res, 200, approvalView(shown, at, { binaryBody: 'base64' }), ctx.method === 'HEAD');
      return;
    }
    // Deciding is at least as sensitive as the operation: on a route with `stepUp`, the approver
    // needs the same fresh second factor the requester needed (a password alone must not approve
    // what a password alone cannot do). Bearer-style challenge: this API answers JSON, not pages.
    const stepUp = route.config.stepUp;
    const shortfall = stepUp === undefined ? undefined : stepUpShortfall(identity, stepUp.maxAgeSeconds, Math.floor(now() / 1000));
    if (stepUp !== undefined && shortfall !== undefined) {
      bus.publish('authn.step_up.required', {
        requestId: ctx.requestId, routeId: route.id, subject: identity.subject, credential: identity.method,
        reason: shortfall, maxAgeSeconds: stepUp.maxAgeSeconds, response: 'challenge', clientAddress: ctx.clientAddress,
      });
      throw new GatehouseError('ERR_AUTHN_STEP_UP_REQUIRED', {
        detail: `${identity.subject} may not ${action} ${id} without a recent second factor: ${shortfall}`,
        headers: { 'www-authenticate': `Bearer error="insufficient_user_authentication", error_description="A more recent multi-factor authentication is required to decide approvals", max_age=${stepUp.maxAgeSeconds}, acr_values="${MFA_ACR}"` },
      });
    }
    // Two people: whatever roles the requester holds, their own request needs someone else.
    if (isRequester) throw new GatehouseError('ERR_APPROVAL_SELF', { detail: `${identity.subject} tried to ${action} their own ${id}` });
    if (!isApprover) throw new GatehouseError('ERR_APPROVAL_NOT_APPROVER', { detail: `${identity.subject} holds none of ${approval.approverRoles.join(', ')} for ${id}` });
    const at = now();
    const decision = action === 'approve' ? 'approved' : 'denied';
    if (!await repo.decide(id, decision, identity.subject, at, at + approval.useWithinSeconds * 1000)) {
      const fresh = await repo.get(id);
      if (fresh !== undefined && fresh.status === 'pending' && fresh.expires_at <= at) {
        await repo.expire(id, at);
        throw new GatehouseError('ERR_APPROVAL_EXPIRED', { detail: `${id} expired before it was decided` });
      }
      throw new GatehouseError(fresh?.status === 'expired' ? 'ERR_APPROVAL_EXPIRED' : 'ERR_APPROVAL_NOT_PENDING', { detail: `${id} is ${fresh?.status ?? 'gone'}` });
    }
    bus.publish(decision === 'approved' ? 'approval.approved' : 'approval.denied', {
      approvalId: id, routeId: row.route_id, requester: row.requester, method: row.method, host: row.host, path: row.path,
      query: row.query, bodySha256: row.body_sha256, approver: identity.subject, requestId: ctx.requestId,
      ...(row.content_type !== null ? { contentType: row.content_type } : {}),
      ...(row.content_encoding !== null ? { contentEncoding: row.content_encoding } : {}),
    });
    const decided: ApprovalRow = {
      ...row, status: decision, approver: identity.subject, decided_at: at, use_by: decision === 'approved' ? at + approval.useWithinSeconds * 1000 : null,
      // A denial erased the body in the same UPDATE (approvals-repo.ts).
      ...(decision === 'denied' ? { body: null, body_erased_at: at } : {}),
    };
    sendJson(ctx.res, 200, approvalView(decided, at, { binaryBody: 'base64' }), false);
  }

  return {
    name: 'approvals',
    prefixes: [APPROVALS_PREFIX],
    handle: (_req, _res, ctx) => handle(ctx),
  };
}
