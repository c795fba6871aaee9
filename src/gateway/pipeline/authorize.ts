/**
 * The authorize stage: for `access: policy` routes, the route's policy set must allow the
 * authenticated principal, or the request ends with 403 and a decision id the client can
 * quote ("why was I denied") and the audit log can resolve.
 *
 * Fail closed everywhere: no identity → 401; no policy set or an unknown one → 403 with
 * basis `policy-set-missing`; engine failure → 503 ERR_POLICY_UNAVAILABLE, never an allow.
 * The engine is synchronous, so a cache hit costs no promise and no tick.
 */
import type { Logger } from 'pino';
import { GatehouseError } from '../../core/errors.ts';
import type { PolicyEngine } from '../../policy/engine.ts';
import { policyDecisionEvent, type PolicyDecisionEvent } from '../../policy/decision-event.ts';
import type { AuthorizationRequest, PolicyDecision } from '../../policy/types.ts';
import { methodsToAuthorize } from '../http/effective-methods.ts';
import type { RequestContext, Stage } from '../context.ts';
import { policyTargetOf } from '../router/policy-target.ts';

export interface AuthorizeStageDeps {
  engine: PolicyEngine;
  /** Request headers copied into `context.headers` (config `policy.contextHeaders`). */
  contextHeaders?: readonly string[];
  /** Publishes the `policy.decision` event (one per decision, allowed or not). */
  publish?: (event: PolicyDecisionEvent) => void;
  logger?: Logger;
}

/** Headers that carry credentials or Gatehouse's own identity: never policy input. */
const NEVER_COPIED = /^(authorization|proxy-authorization|cookie|set-cookie|dpop|x-gatehouse-.*)$/;
/**
 * Proxy headers, as the upstream request treats them (http/upstream-headers.ts): X-Forwarded-For,
 * -Proto, -Host and Forwarded are Gatehouse's to write (the client's are replaced; policies read
 * `context.clientAddress` and `context.host`), and the other `x-forwarded-*` and X-Real-IP count
 * only from a trusted proxy. From anyone else they are whatever the client typed.
 */
const NEVER_FROM_CLIENT = /^(x-forwarded-(for|proto|host)|forwarded)$/;
const ONLY_FROM_TRUSTED_PROXY = /^(x-forwarded-.*|x-real-ip)$/;

/**
 * The first context header the client sent more than once, if any. Node hands the policy one
 * value (the copies joined, "evil, acme", or only the first for fields it does not join), while
 * the upstream gets every copy, and Go's Header.Get or a servlet's getHeader read the first: a
 * `forbid` on "evil" would pass a request the upstream runs for "evil". Such a request is
 * refused, so that the policy and the upstream read the same one value.
 */
function repeatedContextHeader(ctx: RequestContext, contextHeaders: readonly string[]): string | undefined {
  const raw = ctx.req.rawHeaders;
  let seen: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!contextHeaders.includes(name) || (!ctx.peerTrusted && ONLY_FROM_TRUSTED_PROXY.test(name))) continue;
    if (seen?.includes(name)) return name;
    (seen ??= []).push(name);
  }
  return undefined;
}

/** Builds the engine's request from what the earlier stages verified. */
export function authorizationRequestFor(ctx: RequestContext, contextHeaders: readonly string[] = [], method: string = ctx.method): AuthorizationRequest {
  const route = ctx.route!;
  const id = ctx.identity!;
  const headers: Record<string, string> = {};
  for (const name of contextHeaders) {
    if (!ctx.peerTrusted && ONLY_FROM_TRUSTED_PROXY.test(name)) continue;
    const v = ctx.req.headers[name];
    if (v !== undefined) headers[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  const spiffeId = id.attributes.spiffeId;
  const { policySet, resource } = policyTargetOf(route);
  return {
    policySet,
    principal: { kind: id.kind, id: id.subject, roles: id.roles, attributes: id.attributes },
    action: method,
    resource,
    context: {
      clientAddress: ctx.clientAddress,
      path: ctx.path,
      host: ctx.host,
      authMethod: id.method,
      amr: id.amr,
      ...(id.authTime === undefined ? {} : { authTime: id.authTime }),
      ...(id.mfaTime === undefined ? {} : { mfaTime: id.mfaTime }),
      ...(typeof spiffeId === 'string' ? { spiffeId } : {}),
      ...(id.issuer === undefined ? {} : { issuer: id.issuer }),
      ...(contextHeaders.length > 0 ? { headers } : {}),
    },
  };
}

/**
 * @example
 *   const stages = [accept, route, shield, authenticate, stepUp,
 *     createAuthorizeStage({ engine, contextHeaders: config.policy.contextHeaders, publish: (e) => bus.publish('policy.decision', e) }),
 *     approve, rateLimit, enrich, forward];
 */
export function createAuthorizeStage(deps: AuthorizeStageDeps): Stage {
  const contextHeaders = (deps.contextHeaders ?? []).filter((h) => {
    if (NEVER_FROM_CLIENT.test(h)) {
      deps.logger?.warn({ header: h }, 'policy.contextHeaders: proxy header ignored (policies read context.clientAddress and context.host)');
      return false;
    }
    const ok = !NEVER_COPIED.test(h);
    if (!ok) deps.logger?.warn({ header: h }, 'policy.contextHeaders: credential header ignored');
    return ok;
  });
  const { engine, publish, logger } = deps;

  return function authorize(ctx: RequestContext): void {
    const route = ctx.route;
    if (route === undefined) throw new GatehouseError('ERR_INTERNAL', { detail: 'authorize stage ran without a route' });
    if (route.config.access !== 'policy') return;
    if (ctx.identity === undefined) throw new GatehouseError('ERR_AUTHN_REQUIRED', { detail: 'authorize stage ran without an identity' });
    const repeated = contextHeaders.length === 0 ? undefined : repeatedContextHeader(ctx, contextHeaders);
    if (repeated !== undefined) throw new GatehouseError('ERR_REQUEST_HEADER_INVALID', { detail: `policy context header ${repeated} sent more than once` });

    let decision: PolicyDecision | undefined;
    // The first denial decides; otherwise the last allow (one decision per method, each published).
    for (const method of methodsToAuthorize(ctx)) {
      let request: AuthorizationRequest;
      try {
        request = authorizationRequestFor(ctx, contextHeaders, method);
        decision = engine.authorize(request);
      } catch (err) {
        if (err instanceof GatehouseError && err.code === 'ERR_POLICY_UNAVAILABLE') throw err;
        throw new GatehouseError('ERR_POLICY_UNAVAILABLE', { detail: err instanceof Error ? err.message : String(err), cause: err });
      }
      ctx.decisionId = decision.id;
      if (publish) {
        try {
          publish(policyDecisionEvent(decision, { requestId: ctx.requestId, routeId: route.id, input: engine.replayInput(decision, request) }));
        } catch (err) {
          logger?.error({ err, decisionId: decision.id }, 'policy.decision event could not be published');
        }
      }
      if (!decision.allowed) break;
    }
    if (decision === undefined) throw new GatehouseError('ERR_INTERNAL', { detail: 'authorize stage made no decision' });
    if (!decision.allowed) {
      throw new GatehouseError('ERR_POLICY_DENIED', {
        detail: `${decision.basis}${decision.reasons.length > 0 ? ` by ${decision.reasons.join(', ')}` : ''} (set ${decision.policySet ?? 'none'})`,
        data: { decisionId: decision.id, basis: decision.basis, policySet: decision.policySet, reasons: decision.reasons },
      });
    }
    // The guard stage forwards a policy route only when this is set.
    ctx.authorized = true;
  };
}
