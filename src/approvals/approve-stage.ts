/**
 * The approve stage: on a route with `approval`, a request with one of its methods runs only
 * with a second person's approval, and each approval runs exactly one request.
 *
 *   - No `Gatehouse-Approval` header: the request is held. A pending approval bound to the
 *     requester, method, host, path, query, Content-Type, Content-Encoding and the SHA-256 of
 *     the body is stored, and the client gets 403 ERR_APPROVAL_PENDING with the id (JSON body
 *     and the same header).
 *   - `Gatehouse-Approval: apv_…`: the request passes only if that approval is approved, still
 *     within its use window, and bound to exactly this request; it is consumed by one
 *     conditional UPDATE, so of two requests (or instances) racing, one wins. The body read
 *     here is what is forwarded (forwardBufferedBody): the bytes approved are the bytes sent.
 *     A request refused by a later stage before it is sent upstream gives the approval back
 *     (release.ts); once sent, it stays used.
 *
 * The header never reaches the upstream. The used approval is recorded on the context
 * (`ctx.approval`): the identity stage signs it into a request-bound assertion (claim
 * `approval`), which is what a service should trust. The upstream is also told it in
 * `x-gatehouse-approval` (Gatehouse's reserved namespace, which no client can set) — unsigned,
 * kept for upstreams that do not verify assertions.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { GatehouseError, type ErrorCode } from '../core/errors.ts';
import type { EventBus } from '../bus/types.ts';
import type { RequestContext, Stage } from '../gateway/context.ts';
import { methodsToAuthorize } from '../gateway/http/effective-methods.ts';
import { continueBody } from '../gateway/http/expect-continue.ts';
import { forwardBufferedBody } from '../gateway/upstream/forward.ts';
import type { ApprovalBinding, ApprovalSummary, ApprovalsRepo } from '../store/repos/approvals-repo.ts';
import { isApprovalId, newApprovalId } from './approval-id.ts';
import { readBody } from './read-body.ts';
import { boundHeaderValue } from './content-headers.ts';
import { releaseOnRefusal } from './release.ts';

/** The client's header naming an approval; consumed here, never forwarded. */
export const APPROVAL_HEADER = 'gatehouse-approval';
/** What the upstream is told: `<id>; approver=<subject>`. */
export const UPSTREAM_APPROVAL_HEADER = 'x-gatehouse-approval';

export interface ApproveStageDeps {
  repo: ApprovalsRepo;
  bus: Pick<EventBus, 'publish'>;
  logger: Logger;
  now?: () => number;
}

/** Why a stored approval does not let this request through (its status and binding decide). */
function refusalCode(row: ApprovalSummary, binding: ApprovalBinding, now: number): ErrorCode {
  if (row.requester !== binding.requester || row.requester_issuer !== binding.requesterIssuer || row.route_id !== binding.routeId
    || row.method !== binding.method || row.host !== binding.host || row.path !== binding.path || row.query !== binding.query
    || row.body_sha256 !== binding.bodySha256 || row.content_type !== binding.contentType
    || row.content_encoding !== binding.contentEncoding) return 'ERR_APPROVAL_MISMATCH';
  switch (row.status) {
    case 'pending': return row.expires_at <= now ? 'ERR_APPROVAL_EXPIRED' : 'ERR_APPROVAL_PENDING';
    case 'denied': return 'ERR_APPROVAL_DENIED';
    case 'used': return 'ERR_APPROVAL_USED';
    case 'expired': return 'ERR_APPROVAL_EXPIRED';
    // Approved and matching, yet not consumed: past its use window, or another request took it first.
    case 'approved': return row.use_by !== null && row.use_by <= now ? 'ERR_APPROVAL_EXPIRED' : 'ERR_APPROVAL_USED';
  }
}

export function createApproveStage(deps: ApproveStageDeps): Stage {
  const now = deps.now ?? Date.now;
  const { repo, bus } = deps;

  async function approveAsync(ctx: RequestContext, effective: readonly string[]): Promise<void> {
    const route = ctx.route!;
    const approval = route.config.approval!;
    const identity = ctx.identity;
    // Fail closed: config refuses approval on public routes, so no identity means something is wrong.
    if (identity === undefined) throw new GatehouseError('ERR_APPROVAL_INVALID', { detail: `no identity on approval route ${route.id}` });
    const header = ctx.req.headers[APPROVAL_HEADER];
    // The body is kept with the approval for the approver to read: bounded by the approval's own
    // limit too (a requester may hold `maxOpenPerRequester` of them). The same limit for the use:
    // a larger body could never have been approved. A declared length over it is refused before
    // the client is told to send the body (the framing was checked in accept).
    const maxBody = Math.min(route.maxBodyBytes, approval.maxBodyBytes);
    const declared = ctx.req.headers['content-length'];
    if (declared !== undefined && Number(declared) > maxBody) throw new GatehouseError('ERR_REQUEST_BODY_TOO_LARGE', { detail: `body of ${declared} bytes over the approval limit of ${maxBody}` });
    // The client decides the upload only now that every earlier stage let it through.
    continueBody(ctx.req, ctx.res);
    const body = await readBody(ctx.req, maxBody);
    ctx.bytesIn = body.length;
    const binding: ApprovalBinding = {
      routeId: route.id, requester: identity.subject, requesterIssuer: identity.issuer ?? '',
      // What the approver sees and the use must repeat: the request line's method and any an
      // override names (`POST X-HTTP-Method-Override: DELETE` is approved as "POST DELETE", not as a POST).
      method: effective.join(' '), host: ctx.host, path: ctx.path, query: ctx.query,
      bodySha256: createHash('sha256').update(body).digest('hex'),
      // What the bytes mean: another boundary, charset or encoding makes the same bytes another request.
      contentType: boundHeaderValue(ctx.req.rawHeaders, 'content-type'),
      contentEncoding: boundHeaderValue(ctx.req.rawHeaders, 'content-encoding'),
    };
    const fields = {
      routeId: binding.routeId, method: binding.method, host: binding.host, path: binding.path, query: binding.query, bodySha256: binding.bodySha256,
      ...(binding.contentType !== null ? { contentType: binding.contentType } : {}),
      ...(binding.contentEncoding !== null ? { contentEncoding: binding.contentEncoding } : {}),
    };

    if (header === undefined) {
      const at = now();
      // Held requests come before the per-identity rate limit: without a bound, one principal could store rows without end.
      if (await repo.countOpen(binding.requester, at) >= approval.maxOpenPerRequester) {
        bus.publish('approval.refused', { approvalId: '', requestId: ctx.requestId, code: 'ERR_APPROVAL_LIMIT', subject: identity.subject, ...fields });
        throw new GatehouseError('ERR_APPROVAL_LIMIT', { detail: `${binding.requester} has ${approval.maxOpenPerRequester} open approvals` });
      }
      const id = newApprovalId();
      const expiresAt = at + approval.requestTtlSeconds * 1000;
      // The bytes themselves, for the approver: never in an event or a log line, only their digest.
      await repo.create({ ...binding, id, body, expiresAt });
      bus.publish('approval.requested', { approvalId: id, requester: binding.requester, ...fields, requestId: ctx.requestId, expiresAt: new Date(expiresAt).toISOString() });
      throw new GatehouseError('ERR_APPROVAL_PENDING', {
        detail: `approval ${id} requested by ${binding.requester} on route ${route.id}`,
        headers: { [APPROVAL_HEADER]: id },
        data: { approvalId: id },
      });
    }

    const refuse = (code: ErrorCode, approvalId: string, row: ApprovalSummary | undefined): never => {
      bus.publish('approval.refused', {
        approvalId: approvalId.slice(0, 64), requestId: ctx.requestId, code, subject: identity.subject, ...fields,
        ...(row ? { requester: row.requester } : {}),
      });
      throw new GatehouseError(code, { detail: `approval ${approvalId.slice(0, 64)} refused for ${identity.subject} on route ${route.id}` });
    };

    const id = Array.isArray(header) ? '' : header.trim();
    if (!isApprovalId(id)) return refuse('ERR_APPROVAL_INVALID', id, undefined);
    const at = now();
    if (await repo.use(id, binding, at, ctx.requestId)) {
      // Armed at once: from here any refusal before the forward stage sends the request gives the
      // approval back (release.ts); the approver is filled in below, before anything can publish it.
      const use = { approvalId: id, requester: binding.requester, ...fields, approver: '' };
      ctx.undoIfRefused = releaseOnRefusal(deps, use, at, body);
      const row = await repo.get(id);
      const approver = row?.approver ?? '';
      use.approver = approver;
      bus.publish('approval.used', { approvalId: id, requester: binding.requester, ...fields, approver, requestId: ctx.requestId });
      forwardBufferedBody(ctx, body);
      ctx.approval = { id, approver };
      ctx.upstreamHeaders[UPSTREAM_APPROVAL_HEADER] = `${id}; approver=${approver}`;
      return;
    }
    const row = await repo.get(id);
    if (row === undefined) return refuse('ERR_APPROVAL_INVALID', id, undefined);
    const code = refusalCode(row, binding, at);
    if (code === 'ERR_APPROVAL_EXPIRED') await repo.expire(id, at);
    refuse(code, id, row);
  }

  return function approve(ctx: RequestContext): void | Promise<void> {
    const approval = ctx.route?.config.approval;
    // Most routes and methods need none: no promise, no work.
    if (approval === undefined) return undefined;
    // Every method the upstream may act on (an override header, `?_method=`, GET for HEAD), as authorize decides.
    const methods: readonly string[] = approval.methods;
    const effective = methodsToAuthorize(ctx);
    if (!effective.some((m) => methods.includes(m))) return undefined;
    // A held request must never reach the upstream as a tunnel (config refuses GET on websocket routes too).
    if (ctx.upgradeSocket !== undefined) throw new GatehouseError('ERR_APPROVAL_INVALID', { detail: 'upgrade on an approval route' });
    return approveAsync(ctx, effective);
  };
}
