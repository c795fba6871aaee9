/**
 * The step-up stage (the `stepUp` slot, after authenticate): on a route with `stepUp`, the
 * verified principal must have used a second factor at most `maxAgeSeconds` ago.
 *
 * - The second factor is read from the identity the authenticate stage verified: `mfaTime`
 *   is set only when the login's `amr` names a second factor (a JWT's `auth_time`, a
 *   session's login time at the IdP). A time further in the future than clock skew explains
 *   is not a fact (as in src/policy/entities.ts): a forged `auth_time` cannot stay fresh.
 * - Principals that cannot do MFA (services on mTLS or client credentials, API tokens) are
 *   refused: fail closed. Give such callers a route (path prefix) without `stepUp`.
 * - Refusal: a browser navigation (GET/HEAD) on a session of a `browserLogin` route is sent
 *   to a fresh login that demands the second factor and comes back to the same path; every
 *   other request gets 401 ERR_AUTHN_STEP_UP_REQUIRED with the RFC 9470 challenge. An unsafe
 *   method is never redirected (the browser would lose its body).
 *
 * @example
 *   extension.stages = () => ({ authenticate: authn.stage, stepUp: createStepUpStage({ publicOrigin, loginEnabled: true }) });
 */
import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '../core/errors.ts';
import type { RequestContext, Stage } from '../gateway/context.ts';
import { methodsToAuthorize } from '../gateway/http/effective-methods.ts';
import { MAX_FUTURE_AUTH_SKEW_SEC } from '../policy/entities.ts';
import type { AuthnStepUpRequiredEvent } from './events.ts';
import { usedMfa } from './mfa.ts';
import { MFA_ACR, loginRedirectLocation } from './session/login-flow.ts';
import { safeReturnPath } from './session/return-url.ts';

/** Credential kinds that carry a person's login; the others (api_token, mtls) cannot show a second factor. */
const INTERACTIVE_METHODS: ReadonlySet<string> = new Set(['session', 'jwt', 'dpop']);

export interface StepUpStageDeps {
  /** Public origin of the gateway, base of the return path of a login redirect. */
  publicOrigin: string;
  /** False when no login flow is served: browsers get the 401 like everybody. */
  loginEnabled: boolean;
  /** Told about every step-up demanded (the audit log's source). */
  publish?: ((event: AuthnStepUpRequiredEvent) => void) | undefined;
  /** Epoch milliseconds (tests). */
  now?: () => number;
}

type Reason = AuthnStepUpRequiredEvent['reason'];

function isBrowserNavigation(req: IncomingMessage): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const mode = req.headers['sec-fetch-mode'];
  if (mode !== undefined) return mode === 'navigate';
  return req.headers.accept?.includes('text/html') === true;
}

/** Why the identity does not meet the requirement, or undefined when it does. */
export function stepUpShortfall(identity: { method: string; kind: string; amr: readonly string[]; mfaTime: number | undefined }, maxAgeSeconds: number, nowSec: number): Reason | undefined {
  if (identity.kind !== 'user' || !INTERACTIVE_METHODS.has(identity.method)) return 'not_capable';
  const at = identity.mfaTime;
  if (at === undefined || !Number.isSafeInteger(at) || !usedMfa(identity.amr)) return 'no_mfa';
  if (at - nowSec > MAX_FUTURE_AUTH_SKEW_SEC) return 'mfa_time_in_future';
  if (nowSec - at > maxAgeSeconds) return 'mfa_too_old';
  return undefined;
}

/** Creates the stage; the authn component puts it in the `stepUp` slot. */
export function createStepUpStage(deps: StepUpStageDeps): Stage {
  const now = deps.now ?? Date.now;
  return function stepUp(ctx: RequestContext): void {
    const rule = ctx.route?.config.stepUp;
    if (rule === undefined) return;
    // Every method the upstream may act on (an override header, `?_method=`, GET for HEAD), as authorize decides.
    const methods = rule.methods;
    if (methods !== undefined && !methodsToAuthorize(ctx).some((m) => (methods as readonly string[]).includes(m))) return;
    const identity = ctx.identity;
    // The authenticate stage runs first on every non-public route; no identity here is a wiring fault.
    if (identity === undefined) throw new GatehouseError('ERR_AUTHN_STEP_UP_REQUIRED', { detail: 'step-up route without a verified identity' });
    const reason = stepUpShortfall(identity, rule.maxAgeSeconds, Math.floor(now() / 1000));
    if (reason === undefined) return;

    const route = ctx.route!;
    const redirect = deps.loginEnabled && identity.method === 'session' && route.config.authentication.browserLogin && isBrowserNavigation(ctx.req);
    deps.publish?.({
      requestId: ctx.requestId, routeId: route.id, subject: identity.subject, credential: identity.method,
      reason, maxAgeSeconds: rule.maxAgeSeconds, response: redirect ? 'login_redirect' : 'challenge', clientAddress: ctx.clientAddress,
    });
    const detail = `step-up on route ${route.id}: ${reason} (${identity.method}, maxAge ${rule.maxAgeSeconds}s)`;
    if (redirect) {
      let returnTo = '/';
      try { returnTo = safeReturnPath(ctx.query ? `${ctx.path}?${ctx.query}` : ctx.path, deps.publicOrigin); } catch { /* '/' */ }
      throw new GatehouseError('ERR_AUTHN_LOGIN_REDIRECT', { detail, headers: { location: loginRedirectLocation(returnTo, { stepUp: true, maxAgeSeconds: rule.maxAgeSeconds }) } });
    }
    // RFC 9470 §3: the client learns what a new token must show (a login at most max_age ago, with the MFA acr).
    const description = reason === 'not_capable' ? 'A recent multi-factor user login is required' : 'A more recent multi-factor authentication is required';
    throw new GatehouseError('ERR_AUTHN_STEP_UP_REQUIRED', {
      detail,
      headers: { 'www-authenticate': `Bearer error="insufficient_user_authentication", error_description="${description}", max_age=${rule.maxAgeSeconds}, acr_values="${MFA_ACR}"` },
    });
  };
}
