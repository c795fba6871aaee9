/**
 * The authenticate stage. For a route that is not `public` it takes exactly one credential of
 * a kind the route accepts, verifies it and sets `ctx.identity`:
 *
 *   - `Authorization: Bearer ghs_…` → API token; any other `Bearer` → JWT; `DPoP` → a
 *     DPoP-bound JWT with its proof. An explicit Authorization header is the credential even
 *     when an (ambient) session cookie is also sent.
 *   - else the `__Host-gatehouse-session` cookie → browser session (two of them: refused);
 *   - else a TLS client certificate → mTLS.
 *
 * No credential: 401 ERR_AUTHN_REQUIRED with `WWW-Authenticate`, or, on a `browserLogin`
 * route and for a browser navigation, a redirect to the login flow. A credential of a kind
 * the route does not accept: ERR_AUTHN_METHOD_NOT_ALLOWED. When the credential is in a cache
 * the stage is synchronous (returns undefined, no promise).
 *
 * A JWT's binding (`cnf`) is checked on every request, from the cache or not: a
 * certificate-bound token only over a connection with that client certificate (synchronous),
 * a DPoP-bound token only with the `DPoP` scheme and a valid proof (asynchronous).
 */
import type { IncomingMessage } from 'node:http';
import { GatehouseError, toGatehouseError } from '../../core/errors.ts';
import type { Identity, RequestContext, Stage } from '../context.ts';
import type { CompiledRoute } from '../router/types.ts';
import { ApiTokenAuthenticator, API_TOKEN_PREFIX } from '../../authn/api-token-authenticator.ts';
import { JwtAuthenticator, type AudienceRule, type AuthenticatedJwt } from '../../authn/jwt-authenticator.ts';
import { checkCertificateBinding } from '../../authn/binding/certificate-binding.ts';
import type { DpopVerifier } from '../../authn/dpop/dpop-verifier.ts';
import { MtlsAuthenticator } from '../../authn/mtls-authenticator.ts';
import { SessionManager } from '../../authn/session/session-manager.ts';
import { SESSION_COOKIE, mayCarryGatehouseCookie, readCookie, serializeCookie, withoutGatehouseCookies } from '../../authn/session/cookies.ts';
import { loginRedirectLocation } from '../../authn/session/login-flow.ts';
import { safeReturnPath } from '../../authn/session/return-url.ts';

export interface AuthenticateStageDeps {
  /** Absent: bearer JWTs are refused as not accepted. Same for the others. */
  jwt?: JwtAuthenticator | undefined;
  apiTokens?: ApiTokenAuthenticator | undefined;
  sessions?: SessionManager | undefined;
  /** Refuse unsafe methods authenticated by a session cookie from another origin (default on; see crossSiteRefusal). */
  crossSiteCheck?: boolean;
  mtls?: MtlsAuthenticator | undefined;
  /** Absent: DPoP-bound tokens are refused (their proofs cannot be checked). */
  dpop?: DpopVerifier | undefined;
  /** Public origin of the gateway: default audience of bearer JWTs, base of login redirects. */
  publicOrigin: string;
  /**
   * Issuer of the JWTs Gatehouse's own identity provider signs, when the gateway accepts them:
   * such a token sent to a public route is removed before the upstream, like an API token.
   */
  ownIssuer?: string | undefined;
  /**
   * Whether a bearer value is an opaque access or refresh token of Gatehouse's own identity
   * provider (false at once when it cannot be one): such a token sent to a public route is
   * removed before the upstream too.
   */
  ownOpaqueToken?: ((token: string) => false | Promise<boolean>) | undefined;
  /** Longest bearer credential looked at (config `authn.maxTokenBytes`). */
  maxTokenBytes: number;
  /** False when no login flow is served: browsers then get the 401 like everybody. Default true. */
  loginEnabled?: boolean | undefined;
  realm?: string;
}

type Method = 'session' | 'jwt' | 'api_token' | 'mtls';

const CREDENTIAL = /^(Bearer|DPoP) +([^\s]+) *$/i;
/** A bearer credential and its proof are consumed here; the upstream gets the signed assertion instead. */
const CONSUMED_AUTHORIZATION: ReadonlySet<string> = new Set(['authorization', 'dpop']);
const CONSUMED_ALL: ReadonlySet<string> = new Set(['authorization', 'dpop', 'cookie']);

/** Keeps Gatehouse's credentials (its cookies, a consumed Authorization header) away from the upstream. */
function consumeCredentials(ctx: RequestContext, authorization: boolean): void {
  const cookie = ctx.req.headers.cookie;
  let dropCookie = false;
  if (mayCarryGatehouseCookie(cookie)) {
    const rest = withoutGatehouseCookies(cookie);
    if (rest === undefined) dropCookie = true; else ctx.upstreamHeaders.cookie = rest;
  }
  if (authorization) ctx.omitUpstreamHeaders = dropCookie ? CONSUMED_ALL : CONSUMED_AUTHORIZATION;
  else if (dropCookie) ctx.omitUpstreamHeaders = new Set(['cookie']);
}

/** A compact JWS: its payload is the second part. */
const JWS_PAYLOAD = /^[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*$/;

/**
 * A credential only Gatehouse honours: an API token (`Bearer ghs_…`), or a JWT its own identity
 * provider issued (`iss` is `ownIssuer`; read, not verified: a forged one is no one's credential
 * and goes too). Any letter case of the scheme, as CREDENTIAL reads it.
 */
function isGatehouseCredential(authorization: string, ownIssuer: string | undefined, maxTokenBytes: number): boolean {
  const match = CREDENTIAL.exec(authorization);
  if (match === null) return false;
  const token = match[2]!;
  if (token.startsWith(API_TOKEN_PREFIX)) return true;
  if (ownIssuer === undefined || token.length > maxTokenBytes) return false;
  const payload = JWS_PAYLOAD.exec(token)?.[1];
  if (payload === undefined) return false;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iss?: unknown } | null;
    return claims !== null && typeof claims === 'object' && claims.iss === ownIssuer;
  } catch {
    return false;
  }
}

/**
 * On a public route: removes an opaque token of Gatehouse's identity provider (an access token
 * good at userinfo, a refresh token) as isGatehouseCredential's tokens are removed. Such a
 * token has no shape of its own, so the provider's store is asked, only for values of the
 * provider's opaque shape. A store that cannot answer removes the header (fail closed: an
 * upstream's own token of that shape is lost for the outage, a Gatehouse token never leaks).
 */
function consumeIfOwnOpaqueToken(ctx: RequestContext, authorization: string, issued: (token: string) => false | Promise<boolean>): void | Promise<void> {
  const token = CREDENTIAL.exec(authorization)?.[2];
  const verdict = token === undefined ? false : issued(token);
  if (verdict === false) return consumeCredentials(ctx, false);
  return verdict.then((own) => consumeCredentials(ctx, own), () => consumeCredentials(ctx, true));
}

function isBrowserNavigation(req: IncomingMessage): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const mode = req.headers['sec-fetch-mode'];
  if (mode !== undefined) return mode === 'navigate';
  return req.headers.accept?.includes('text/html') === true;
}

/** Creates the stage; the gateway puts it in the `authenticate` slot. */
/** Methods a browser sends cross-site without a preflight that must not change anything (RFC 9110 §9.2.1). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Why a request that a browser session's cookie authenticates is refused as a cross-site
 * write (CSRF), or undefined. SameSite=Lax keeps the cookie off cross-site subrequests, but
 * not off requests from a sibling subdomain (same site, another origin) or from browsers
 * that ignore SameSite. The browser says where the request comes from: Sec-Fetch-Site when
 * it sends it (same-origin, or none for a user's own navigation, pass), else Origin, which
 * must name the host the request was sent to. Neither header: not a browser, or one too old
 * to send either; let through (non-browser clients carry no ambient cookie).
 */
function crossSiteRefusal(req: IncomingMessage): string | undefined {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin' || site === 'none' ? undefined : `sec-fetch-site=${site}`;
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  let host: string;
  try { host = new URL(origin).host; } catch { return 'origin unreadable'; }
  return host !== '' && host.toLowerCase() === (req.headers.host ?? '').toLowerCase() ? undefined : `origin ${origin.slice(0, 200)}`;
}

export function createAuthenticateStage(deps: AuthenticateStageDeps): Stage {
  const realm = deps.realm ?? 'gatehouse';
  const loginEnabled = deps.loginEnabled ?? true;
  const challenge = `Bearer realm="${realm}"`;
  const invalidTokenChallenge = `Bearer realm="${realm}", error="invalid_token"`;
  // RFC 9449 §7.1: DPoP refusals are answered with a DPoP challenge naming the accepted algorithms.
  const dpopAlgs = deps.dpop === undefined ? '' : ` algs="${deps.dpop.algorithms.join(' ')}"`;
  const dpopProofChallenge = `DPoP${dpopAlgs}, error="invalid_dpop_proof"`;
  const dpopTokenChallenge = `DPoP${dpopAlgs}, error="invalid_token"`;
  const audienceRules = new WeakMap<CompiledRoute, AudienceRule>();

  function audiences(route: CompiledRoute): AudienceRule {
    let rule = audienceRules.get(route);
    if (rule === undefined) {
      rule = { route: route.config.authentication.audiences, fallback: [route.id, deps.publicOrigin] };
      audienceRules.set(route, rule);
    }
    return rule;
  }

  /** 401s carry a challenge (RFC 6750 §3); a browser on a login route is sent to log in instead. */
  function refuse(ctx: RequestContext, route: CompiledRoute, error: unknown, dpopScheme = false): never {
    const e = toGatehouseError(error);
    if (e.code === 'ERR_AUTHN_SESSION_INVALID' || e.code === 'ERR_AUTHN_SESSION_EXPIRED') {
      if (loginEnabled && route.config.authentication.browserLogin && isBrowserNavigation(ctx.req)) throw loginRedirect(ctx, serializeCookie(SESSION_COOKIE, '', 0), e);
    }
    if (e.status !== 401 || e.headers !== undefined) throw e;
    let header = e.code === 'ERR_AUTHN_REQUIRED' || e.code === 'ERR_AUTHN_METHOD_NOT_ALLOWED' ? challenge : invalidTokenChallenge;
    if (e.code.startsWith('ERR_AUTHN_DPOP_') && e.code !== 'ERR_AUTHN_DPOP_UNBOUND_TOKEN') header = dpopProofChallenge;
    else if (dpopScheme) header = dpopTokenChallenge;
    throw new GatehouseError(e.code, { detail: e.detail, cause: e, headers: { 'www-authenticate': header }, ...(e.data ? { data: e.data } : {}) });
  }

  function loginRedirect(ctx: RequestContext, clearCookie: string | undefined, cause?: GatehouseError): GatehouseError {
    let returnTo = '/';
    try { returnTo = safeReturnPath(ctx.query ? `${ctx.path}?${ctx.query}` : ctx.path, deps.publicOrigin); } catch { /* '/' */ }
    const headers: Record<string, string> = { location: loginRedirectLocation(returnTo) };
    if (clearCookie !== undefined) headers['set-cookie'] = clearCookie;
    return new GatehouseError('ERR_AUTHN_LOGIN_REDIRECT', { detail: cause ? `login required after ${cause.code}` : 'no credential', headers, cause });
  }

  function notAccepted(ctx: RequestContext, route: CompiledRoute, method: Method): never {
    refuse(ctx, route, new GatehouseError('ERR_AUTHN_METHOD_NOT_ALLOWED', { detail: `${method} not accepted on route ${route.id}` }));
  }

  function settle(ctx: RequestContext, route: CompiledRoute, pending: Promise<Identity>, dpopScheme = false): Promise<void> {
    return pending.then((identity) => { ctx.identity = identity; }, (error: unknown) => refuse(ctx, route, error, dpopScheme));
  }

  /**
   * Enforces the token's binding for this request. Returns the identity synchronously for
   * plain and certificate-bound tokens, a promise for DPoP-bound ones; throws on refusal.
   */
  function bound(ctx: RequestContext, token: string, jwt: AuthenticatedJwt, dpopScheme: boolean): Identity | Promise<Identity> {
    const { binding } = jwt;
    if (binding === undefined) {
      // RFC 9449 §7.1: the DPoP scheme promises a bound token; a bearer token there is refused.
      if (dpopScheme) throw new GatehouseError('ERR_AUTHN_DPOP_UNBOUND_TOKEN', { detail: 'DPoP scheme with a token without cnf.jkt' });
      return jwt.identity;
    }
    if (binding.x5t !== undefined) checkCertificateBinding(binding.x5t, ctx.req.socket);
    if (binding.jkt === undefined) {
      if (dpopScheme) throw new GatehouseError('ERR_AUTHN_DPOP_UNBOUND_TOKEN', { detail: 'DPoP scheme with a certificate-bound token' });
      return jwt.identity;
    }
    // A DPoP-bound token used as a bearer token is exactly what a thief would do with it.
    if (!dpopScheme) throw new GatehouseError('ERR_AUTHN_DPOP_REQUIRED', { detail: 'DPoP-bound token presented with the Bearer scheme' });
    if (deps.dpop === undefined) throw new GatehouseError('ERR_AUTHN_DPOP_REQUIRED', { detail: 'DPoP proofs are not checked on this gateway' });
    const identity = jwt.identity;
    return deps.dpop.verify({
      proof: ctx.req.headers.dpop, method: ctx.req.method ?? '', target: ctx.req.url ?? '/', host: ctx.host, accessToken: token, jkt: binding.jkt,
    }).then(() => identity);
  }

  return function authenticate(ctx: RequestContext): void | Promise<void> {
    const route = ctx.route;
    // Fail closed: without a route there is nothing that could have made the request public.
    if (route === undefined) throw new GatehouseError('ERR_AUTHN_REQUIRED', { detail: 'no route on context' });
    const req = ctx.req;
    const authorization = req.headers.authorization;
    // A public route's upstream gets a client's Authorization as sent (it may be its own), except
    // a Gatehouse API token or access token: valid only here, of no use to any upstream but to
    // replay against the routes that accept it.
    if (route.config.access === 'public') {
      const gatehouse = authorization !== undefined && isGatehouseCredential(authorization, deps.ownIssuer, deps.maxTokenBytes);
      if (gatehouse || authorization === undefined || deps.ownOpaqueToken === undefined) return consumeCredentials(ctx, gatehouse);
      return consumeIfOwnOpaqueToken(ctx, authorization, deps.ownOpaqueToken);
    }
    consumeCredentials(ctx, authorization !== undefined);
    const accepted = route.config.authentication.methods;

    if (authorization !== undefined) {
      const match = CREDENTIAL.exec(authorization);
      if (match === null) {
        const scheme = authorization.split(' ', 1)[0] ?? '';
        refuse(ctx, route, new GatehouseError(/^(bearer|dpop)$/i.test(scheme) ? 'ERR_AUTHN_TOKEN_MALFORMED' : 'ERR_AUTHN_METHOD_NOT_ALLOWED', { detail: `Authorization scheme ${JSON.stringify(scheme.slice(0, 20))}` }));
      }
      const dpopScheme = match[1]!.length === 4;
      const token = match[2]!;
      if (token.length > deps.maxTokenBytes) refuse(ctx, route, new GatehouseError('ERR_AUTHN_TOKEN_TOO_LARGE', { detail: `${token.length} bytes` }), dpopScheme);
      if (token.startsWith(API_TOKEN_PREFIX)) {
        if (dpopScheme) refuse(ctx, route, new GatehouseError('ERR_AUTHN_DPOP_UNBOUND_TOKEN', { detail: 'API tokens cannot be DPoP-bound' }), true);
        if (!accepted.includes('api_token') || deps.apiTokens === undefined) notAccepted(ctx, route, 'api_token');
        const key = ApiTokenAuthenticator.cacheKey(token);
        const hit = deps.apiTokens.cached(key);
        if (hit !== undefined) { ctx.identity = hit; return undefined; }
        return settle(ctx, route, deps.apiTokens.authenticate(token, key));
      }
      if (!accepted.includes('jwt') || deps.jwt === undefined) notAccepted(ctx, route, 'jwt');
      const key = JwtAuthenticator.cacheKey(token);
      const rule = audiences(route);
      let result: Identity | Promise<Identity>;
      try {
        const hit = deps.jwt.cached(key, rule);
        if (hit === undefined) {
          const jwt = deps.jwt;
          return settle(ctx, route, jwt.authenticate(token, key, rule).then((verified) => bound(ctx, token, verified, dpopScheme)), dpopScheme);
        }
        result = bound(ctx, token, hit, dpopScheme);
      } catch (error) {
        refuse(ctx, route, error, dpopScheme);
      }
      if (result instanceof Promise) return settle(ctx, route, result, dpopScheme);
      ctx.identity = result;
      return undefined;
    }

    const cookies = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (cookies.length > 1) refuse(ctx, route, new GatehouseError('ERR_AUTHN_CREDENTIAL_AMBIGUOUS', { detail: `${cookies.length} session cookies` }));
    if (cookies.length === 1) {
      if (!accepted.includes('session') || deps.sessions === undefined) notAccepted(ctx, route, 'session');
      // A WebSocket handshake is a GET, but what it opens is a two-way channel acting as the
      // user (cross-site WebSocket hijacking): it is judged like a write.
      if (deps.crossSiteCheck !== false && (!SAFE_METHODS.has(req.method ?? '') || ctx.upgradeSocket !== undefined)) {
        const refusal = crossSiteRefusal(req);
        if (refusal !== undefined) refuse(ctx, route, new GatehouseError('ERR_AUTHN_CROSS_SITE_REQUEST', { detail: refusal }));
      }
      const id = SessionManager.sessionId(cookies[0]!);
      if (id === undefined) refuse(ctx, route, new GatehouseError('ERR_AUTHN_SESSION_INVALID', { detail: 'malformed session cookie', data: { unknownSession: true } }));
      const hit = deps.sessions.cached(id);
      if (hit !== undefined) { ctx.identity = hit; return undefined; }
      return settle(ctx, route, deps.sessions.authenticate(id));
    }

    const socket = req.socket;
    // Keep-alive requests of a verified connection skip reading the certificate again.
    const known = deps.mtls?.cached(socket);
    if (known !== undefined && accepted.includes('mtls')) { ctx.identity = known; return undefined; }
    const certificate = MtlsAuthenticator.peerCertificate(socket);
    if (certificate !== undefined) {
      if (!accepted.includes('mtls') || deps.mtls === undefined) notAccepted(ctx, route, 'mtls');
      return settle(ctx, route, deps.mtls.authenticate(socket, certificate));
    }

    if (loginEnabled && route.config.authentication.browserLogin && deps.sessions !== undefined && isBrowserNavigation(req)) throw loginRedirect(ctx, undefined);
    refuse(ctx, route, new GatehouseError('ERR_AUTHN_REQUIRED', { detail: 'no credential' }));
  };
}
