/**
 * Fills `ctx.upstreamHeaders` with who sent the request, per the route's `upstreamIdentity`:
 * the signed assertion (cached or per-request) and, for legacy upstreams, plain headers.
 *
 * Client-supplied `x-gatehouse-*` headers must be stripped from the forwarded request by
 * the forwarder (see `isReservedIdentityHeader`); this stage only adds Gatehouse's own.
 */
import type { Logger } from 'pino';
import { GatehouseError } from '../../core/errors.ts';
import {
  IDENTITY_ASSERTION_HEADER,
  IDENTITY_KIND_HEADER,
  IDENTITY_ROLES_HEADER,
  IDENTITY_SUBJECT_HEADER,
} from '../../sdk/contract.ts';
import type { RequestContext, Stage } from '../context.ts';
import type { AssertionSigner } from './signer.ts';

/** True for header names only Gatehouse may set towards an upstream (`x-gatehouse-*`). */
export function isReservedIdentityHeader(name: string): boolean {
  return name.length >= 12 && name.slice(0, 12).toLowerCase() === 'x-gatehouse-';
}

export { upstreamPathOf } from '../upstream/upstream-path.ts';
import { upstreamPathOf } from '../upstream/upstream-path.ts';

function headerText(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) && !value.includes(',') ? value : encodeURIComponent(value);
}

export interface UpstreamIdentityDeps {
  signer: AssertionSigner;
  logger?: Logger;
}

/**
 * @example
 *   const enrichIdentity = createUpstreamIdentityStage({ signer });
 *   // in the stage list, after authorize/approve/rate limit, before forward
 */
export function createUpstreamIdentityStage(deps: UpstreamIdentityDeps): Stage {
  const { signer } = deps;

  function signFailed(err: unknown): never {
    // Forwarding without the assertion would look to the upstream like an unauthenticated
    // request at best; refuse instead.
    throw new GatehouseError('ERR_INTERNAL', { detail: 'identity assertion could not be signed', cause: err });
  }

  return function enrichIdentity(ctx: RequestContext): void | Promise<void> {
    const route = ctx.route;
    const identity = ctx.identity;
    if (route === undefined || identity === undefined) return;
    const opts = route.config.upstreamIdentity;
    if (opts.headers) {
      ctx.upstreamHeaders[IDENTITY_SUBJECT_HEADER] = headerText(identity.subject);
      ctx.upstreamHeaders[IDENTITY_KIND_HEADER] = identity.kind;
      ctx.upstreamHeaders[IDENTITY_ROLES_HEADER] = identity.roles.map((r) => encodeURIComponent(r)).join(',');
    }
    const audience = route.upstreamName;
    // An approval belongs to this one request: a cached assertion, valid for any request for
    // a minute, must not carry it — so an approved request gets a bound one whatever the mode.
    if (ctx.approval !== undefined && opts.assertion !== 'none') {
      const binding = { requestId: ctx.requestId, method: ctx.method, path: upstreamPathOf(ctx), approval: ctx.approval };
      return signer.signBound(identity, audience, binding).then((jwt) => { ctx.upstreamHeaders[IDENTITY_ASSERTION_HEADER] = jwt; }, signFailed);
    }
    if (opts.assertion === 'cached') {
      const hit = signer.cached(identity, audience);
      if (hit !== undefined) {
        ctx.upstreamHeaders[IDENTITY_ASSERTION_HEADER] = hit;
        return;
      }
      return signer.sign(identity, audience).then((jwt) => { ctx.upstreamHeaders[IDENTITY_ASSERTION_HEADER] = jwt; }, signFailed);
    }
    if (opts.assertion === 'per-request') {
      const binding = { requestId: ctx.requestId, method: ctx.method, path: upstreamPathOf(ctx) };
      return signer.signBound(identity, audience, binding).then((jwt) => { ctx.upstreamHeaders[IDENTITY_ASSERTION_HEADER] = jwt; }, signFailed);
    }
  };
}
