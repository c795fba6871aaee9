/**
 * The gateway as a relying party of its own identity provider (authorization code + PKCE +
 * state + nonce, through openid-client). Serves `/_gatehouse/auth/login`, `/callback` and
 * `/logout`. The pending login lives server-side, found by an id in a short-lived
 * `__Host-` cookie, and is used once; a session starts only after the code exchange and the
 * ID token checks succeeded, with a fresh id (fixation-proof), and the browser goes back to
 * a same-origin path only. Logout ends the gateway's session and, when the IdP runs in this
 * process, the IdP's sign-in session of the same browser (else the next login would pass the
 * IdP without a password: a shared machine would stay signed in).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import type { Logger } from 'pino';
import { GatehouseError } from '../../core/errors.ts';
import { MAX_FUTURE_AUTH_SKEW_SEC } from '../../policy/entities.ts';
import { usedMfa } from '../mfa.ts';
import { requireEnabledPrincipal } from '../principal.ts';
import type { PrincipalLookup } from '../types.ts';
import { LOGIN_COOKIE, SESSION_COOKIE, readCookie, serializeCookie } from './cookies.ts';
import { safeReturnPath } from './return-url.ts';
import { SessionManager } from './session-manager.ts';
import type { LoginStateStore } from './session-store.ts';

export const AUTH_PREFIX = '/_gatehouse/auth/';
export const LOGIN_PATH = `${AUTH_PREFIX}login`;
export const CALLBACK_PATH = `${AUTH_PREFIX}callback`;
export const LOGOUT_PATH = `${AUTH_PREFIX}logout`;

export interface LoginFlowOptions {
  /** openid-client configuration of the gateway's client at its own IdP (see `discoverLoginClient`). */
  client: oidc.Configuration;
  /** Public origin of the gateway, e.g. `https://gw.example.com`; the callback URL is built on it. */
  publicOrigin: string;
  sessions: SessionManager;
  logins: LoginStateStore;
  principals: PrincipalLookup;
  scopes: readonly string[];
  loginTimeoutMs: number;
  /**
   * Ends the IdP's sign-in session of the browser that sent the logout request (the in-process
   * IdP's `endBrowserSession`); its `clearCookies` go with the logout's response. Absent: logout
   * ends the gateway's session only.
   */
  endIdpSession?: ((req: IncomingMessage, res: ServerResponse) => Promise<{ subject: string | undefined; clearCookies: string[] }>) | undefined;
  logger?: Logger | undefined;
}

/** The `step_up` value of the login start that asks the IdP for a fresh login with its second factor. */
export const STEP_UP_MFA = 'mfa';
/** The acr Gatehouse's IdP sets for a login with its second factor (src/identity/interaction). */
export const MFA_ACR = 'urn:gatehouse:mfa';
/** A step-up route's `maxAgeSeconds` as the login start carries it (schema: 1…86 400). */
const MAX_AGE = /^[1-9][0-9]{0,4}$/;
/**
 * Marks the login id (cookie value) of a step-up login: `<random>.su` or `<random>.su<maxAge>`.
 * The pending login is stored under the hash of the whole value, so the mark cannot be removed
 * or changed without losing the login; every LoginStateStore carries it unchanged.
 */
const STEP_UP_MARK = '.su';

/** What a step-up login must show at its callback, read back from its login id; undefined for an ordinary login. */
function stepUpOf(loginId: string): { maxAgeSeconds: number | undefined } | undefined {
  const at = loginId.lastIndexOf(STEP_UP_MARK);
  if (at < 0) return undefined;
  const age = loginId.slice(at + STEP_UP_MARK.length);
  return { maxAgeSeconds: MAX_AGE.test(age) ? Number(age) : undefined };
}

/**
 * Where a browser without a session is sent: the login start, carrying its same-origin return
 * path; with `stepUp`, a login that must be fresh and use the second factor (step-up stage).
 */
export function loginRedirectLocation(returnPath: string, options: { stepUp?: boolean; maxAgeSeconds?: number } = {}): string {
  const maxAge = options.stepUp === true && options.maxAgeSeconds !== undefined ? `&max_age=${options.maxAgeSeconds}` : '';
  return `${LOGIN_PATH}?return_to=${encodeURIComponent(returnPath)}${options.stepUp === true ? `&step_up=${STEP_UP_MFA}${maxAge}` : ''}`;
}

function redirect(res: ServerResponse, location: string, cookies: string[]): void {
  res.writeHead(303, { location, 'set-cookie': cookies, 'cache-control': 'no-store', 'content-length': '0' });
  res.end();
}

/** The header by which a browser marks a request it made ahead of the user (prefetch, prerender, preview), or undefined. */
function prefetchOf(req: IncomingMessage): string | undefined {
  const h = req.headers;
  // Sec-Purpose (Fetch; Chromium's speculation rules, Firefox) and the older names: Purpose
  // (Chromium, Safari), X-Moz (old Firefox), X-Purpose (Safari's previews).
  for (const [name, pattern] of [['sec-purpose', /prefetch/i], ['purpose', /prefetch|preview/i], ['x-moz', /prefetch/i], ['x-purpose', /preview|prefetch/i]] as const) {
    const value = h[name];
    if (typeof value === 'string' && pattern.test(value)) return `${name}: ${value.slice(0, 100)}`;
  }
  return undefined;
}

function singleCookie(req: IncomingMessage, name: string): string | undefined {
  const values = readCookie(req.headers.cookie, name);
  return values.length === 1 ? values[0] : undefined;
}

export class LoginFlow {
  readonly #o: LoginFlowOptions;
  readonly #origin: string;

  constructor(options: LoginFlowOptions) {
    this.#o = options;
    this.#origin = new URL(options.publicOrigin).origin;
  }

  get callbackUrl(): string { return this.#origin + CALLBACK_PATH; }

  /**
   * Handles a request under `/_gatehouse/auth/`. Returns false when the path is not ours.
   * Errors are thrown as GatehouseErrors (written by the gateway's one error path), or, when
   * `onError` is given, passed to it.
   */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void> | false {
    const url = new URL(req.url ?? '/', this.#origin);
    switch (url.pathname) {
      case LOGIN_PATH: return this.#expect(req, ['GET', 'HEAD'], () => this.#login(url, res));
      case CALLBACK_PATH: return this.#expect(req, ['GET'], () => this.#callback(req, url, res));
      case LOGOUT_PATH: return this.#expect(req, ['GET', 'POST'], () => this.#logout(req, url, res));
      default: return false;
    }
  }

  async #expect(req: IncomingMessage, methods: string[], fn: () => Promise<void>): Promise<void> {
    if (!methods.includes(req.method ?? '')) throw new GatehouseError('ERR_REQUEST_METHOD_NOT_ALLOWED', { headers: { allow: methods.join(', ') } });
    await fn();
  }

  async #login(url: URL, res: ServerResponse): Promise<void> {
    const returnTo = safeReturnPath(url.searchParams.get('return_to') ?? '/', this.#origin);
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const stepUp = url.searchParams.get('step_up') === STEP_UP_MFA;
    const maxAge = url.searchParams.get('max_age') ?? '';
    // A step-up login is remembered as one: its callback must not send the browser back into
    // the step-up (and so to this login again, forever) when the sign-in gave no fresh second factor.
    const loginId = randomBytes(32).toString('base64url') + (stepUp ? STEP_UP_MARK + (MAX_AGE.test(maxAge) ? maxAge : '') : '');
    await this.#o.logins.put(loginId, { state, nonce, codeVerifier, returnTo, expiresAt: Date.now() + this.#o.loginTimeoutMs });
    const authorizationUrl = oidc.buildAuthorizationUrl(this.#o.client, {
      redirect_uri: this.callbackUrl,
      scope: this.#o.scopes.join(' '),
      response_type: 'code',
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      // Step-up: the IdP must sign the user in again (an IdP session from before does not
      // count) and ask for the second factor; the new session carries the new login time.
      ...(stepUp ? { prompt: 'login', max_age: '0', acr_values: MFA_ACR } : {}),
    });
    redirect(res, authorizationUrl.href, [serializeCookie(LOGIN_COOKIE, loginId, this.#o.loginTimeoutMs / 1000)]);
  }

  async #callback(req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
    const loginId = singleCookie(req, LOGIN_COOKIE);
    // Single use: taken before anything else, so a replayed callback finds nothing.
    const login = loginId === undefined ? undefined : await this.#o.logins.take(loginId, Date.now());
    if (login === undefined) throw new GatehouseError('ERR_AUTHN_LOGIN_STATE_INVALID', { detail: 'no pending login for this browser' });
    let claims: oidc.IDToken | undefined;
    try {
      const tokens = await oidc.authorizationCodeGrant(this.#o.client, url, {
        pkceCodeVerifier: login.codeVerifier,
        expectedState: login.state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      });
      claims = tokens.claims();
    } catch (error) {
      // The IdP refused the sign-in itself (a blocked or disabled subject): believed only once the
      // response's state and issuer matched this browser's pending login, which openid-client checks first.
      if (error instanceof oidc.AuthorizationResponseError && error.error === 'access_denied') {
        throw new GatehouseError('ERR_AUTHN_LOGIN_DENIED', { detail: `the identity provider refused the sign-in: ${error.error_description ?? error.error}`, cause: error });
      }
      throw new GatehouseError('ERR_AUTHN_LOGIN_STATE_INVALID', { detail: `code exchange refused: ${error instanceof Error ? error.message : String(error)}`, cause: error });
    }
    if (claims === undefined) throw new GatehouseError('ERR_AUTHN_LOGIN_STATE_INVALID', { detail: 'no ID token' });
    const principal = await requireEnabledPrincipal(this.#o.principals, claims.sub);
    const amr = Array.isArray(claims.amr) ? claims.amr.filter((m): m is string => typeof m === 'string') : [];
    const authTime = typeof claims.auth_time === 'number' ? claims.auth_time : undefined;
    const stepUp = stepUpOf(loginId!);
    if (stepUp !== undefined) this.#requireFreshSecondFactor(login.expiresAt - this.#o.loginTimeoutMs, amr, authTime, stepUp.maxAgeSeconds, principal.subject);
    // Rotation: whatever session id the browser brought (possibly planted) ends here.
    for (const previous of readCookie(req.headers.cookie, SESSION_COOKIE)) {
      const id = SessionManager.sessionId(previous);
      if (id !== undefined) await this.#o.sessions.revoke(id);
    }
    const { cookieValue, session } = await this.#o.sessions.create(principal, {
      issuer: claims.iss,
      amr,
      authTime,
    });
    this.#o.logger?.info({ subject: principal.subject, sessionId: session.id }, 'browser session started');
    redirect(res, login.returnTo, [
      serializeCookie(SESSION_COOKIE, cookieValue, this.#o.sessions.cookieMaxAgeSec(session)),
      serializeCookie(LOGIN_COOKIE, '', 0),
    ]);
  }

  /**
   * The end of a step-up login: the sign-in must have used a second factor during this round
   * trip (the IdP was asked for a fresh one), recent enough for the route's `maxAgeSeconds`.
   * Otherwise the step-up stage would send the browser to this login again, and again: refused
   * here instead, with no session started (the browser keeps the one it had).
   */
  #requireFreshSecondFactor(startedAtMs: number, amr: string[], authTime: number | undefined, maxAgeSeconds: number | undefined, subject: string): void {
    const nowSec = Math.floor(Date.now() / 1000);
    const startedSec = Math.floor(startedAtMs / 1000);
    let shortfall: string | undefined;
    if (authTime === undefined || !Number.isSafeInteger(authTime) || !usedMfa(amr)) shortfall = 'no second factor';
    else if (authTime - nowSec > MAX_FUTURE_AUTH_SKEW_SEC) shortfall = 'login time in the future';
    // The IdP's clock may differ from ours by up to the skew.
    else if (authTime < startedSec - MAX_FUTURE_AUTH_SKEW_SEC) shortfall = 'login from before the step-up began (not a fresh sign-in)';
    else if (maxAgeSeconds !== undefined && nowSec - authTime > maxAgeSeconds) shortfall = `second factor ${nowSec - authTime}s old at the callback, more than maxAgeSeconds ${maxAgeSeconds}`;
    if (shortfall === undefined) return;
    throw new GatehouseError('ERR_AUTHN_STEP_UP_REQUIRED', {
      detail: `step-up login of ${subject} ended without a fresh second factor: ${shortfall} (amr ${amr.join(' ') || 'none'})`,
      publicMessage: 'The sign-in did not provide a fresh second factor, which this page requires',
      headers: { 'set-cookie': serializeCookie(LOGIN_COOKIE, '', 0), 'cache-control': 'no-store' },
    });
  }

  async #logout(req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
    // A cross-site page must not be able to log the user out (nuisance CSRF; with the IdP's
    // session ending too, every application signed in through it): browsers say where a
    // request came from, in Sec-Fetch-Site, or in Origin when they are too old for that.
    // Neither header is no answer, and is refused: a browser without Sec-Fetch-Site sends no
    // Origin on a GET, and its cross-site link or image carries the (Lax) cookies all the same.
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new GatehouseError('ERR_AUTHN_CSRF', { detail: `logout from sec-fetch-site=${site}` });
    const origin = req.headers.origin;
    if (site === undefined && origin !== this.#origin) throw new GatehouseError('ERR_AUTHN_CSRF', { detail: origin === undefined ? 'logout without Sec-Fetch-Site or Origin' : `logout from origin ${origin.slice(0, 200)}` });
    // A same-origin "Sign out" link fetched ahead of a click (speculation rules, which an app may
    // apply to all its links, or <link rel=prefetch>) would end the sessions of whoever merely
    // hovered over it or loaded the page: a prefetch is not the user asking.
    const ahead = prefetchOf(req);
    if (ahead !== undefined) throw new GatehouseError('ERR_AUTHN_CSRF', { detail: `logout fetched ahead of a click (${ahead})` });
    const returnTo = safeReturnPath(url.searchParams.get('return_to') ?? '/', this.#origin);
    for (const value of readCookie(req.headers.cookie, SESSION_COOKIE)) {
      const id = SessionManager.sessionId(value);
      if (id !== undefined) await this.#o.sessions.revoke(id);
    }
    const cookies = [serializeCookie(SESSION_COOKIE, '', 0)];
    if (this.#o.endIdpSession !== undefined) {
      let ended: { subject: string | undefined; clearCookies: string[] };
      try {
        ended = await this.#o.endIdpSession(req, res);
      } catch (error) {
        // Not a logout if the IdP would sign the next visitor in: say so (the gateway session is gone already).
        throw new GatehouseError('ERR_AUTHN_UNAVAILABLE', {
          detail: `logout could not end the IdP sign-in session: ${error instanceof Error ? error.message : String(error)}`,
          cause: error,
          headers: { 'set-cookie': cookies[0]!, 'cache-control': 'no-store' },
        });
      }
      cookies.push(...ended.clearCookies);
      if (ended.subject !== undefined) this.#o.logger?.info({ subject: ended.subject }, 'IdP sign-in session ended at gateway logout');
    }
    redirect(res, returnTo, cookies);
  }
}

/**
 * Discovers the gateway's own IdP and returns the client configuration for the login flow.
 * @param issuer the IdP issuer (Gatehouse: the public URL; discovery under `/oidc`)
 */
export async function discoverLoginClient(issuer: URL, clientId: string, clientSecret: string | undefined, options?: oidc.DiscoveryRequestOptions): Promise<oidc.Configuration> {
  const auth = clientSecret === undefined ? oidc.None() : oidc.ClientSecretBasic(clientSecret);
  return oidc.discovery(issuer, clientId, clientSecret === undefined ? undefined : { client_secret: clientSecret }, auth, options);
}
