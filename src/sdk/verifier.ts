/**
 * Verifies the identity assertion Gatehouse puts on every request it forwards: signature
 * (ES256 only, keys from the gateway's JWKS or a given key set), `typ`, issuer, audience
 * (this service), expiry with a small skew, and — when the assertion is bound to a
 * request — method, path and request id. An `approval` claim is accepted only on a
 * request-bound assertion.
 */
import { createLocalJWKSet, createRemoteJWKSet, customFetch, errors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { GatehouseError } from '../core/errors.ts';
import { boundedFetch } from '../core/http/bounded-fetch.ts';
import { fetchTrusting } from '../core/http/trusting-fetch.ts';
import { IDENTITY_ASSERTION_ALG, IDENTITY_ASSERTION_TYP } from './contract.ts';
import type { GatehouseApproval, GatehouseIdentity } from './identity.ts';

export interface AssertionVerifierOptions {
  /** The gateway's assertion JWKS URL, e.g. `https://gateway.example/.well-known/gatehouse/assertion-jwks.json`; https only, except on loopback. */
  jwksUrl?: string | URL;
  /** A fixed key set instead of `jwksUrl`. */
  jwks?: JSONWebKeySet;
  /**
   * PEM CA certificate(s) to trust for fetching `jwksUrl`, in addition to the system roots —
   * for a gateway whose public certificate comes from a private CA (or is self-signed in
   * development). Verification is never turned off.
   */
  ca?: string | readonly string[];
  /** The gateway's issuer (its public URL). */
  issuer: string;
  /** This service's name: the upstream name in the gateway configuration. */
  audience: string;
  /** Allowed clock difference in seconds. Default 5. */
  clockToleranceSeconds?: number;
  /**
   * Refuse a second request carrying the same per-request assertion (same `rid`) while it
   * is valid. Off by default: a gateway retry of an idempotent request reuses it. The
   * memory is per process.
   */
  rejectReplayedRequestIds?: boolean;
  /**
   * Accept only per-request assertions (`upstreamIdentity.assertion: per-request` on every
   * route to this service), and only with the request's `x-request-id`. Without it a cached
   * assertion — valid for any method and path for about a minute — is accepted as well, so
   * anyone holding one could use it where the gateway binds assertions to the request.
   * Default false.
   */
  requireRequestBinding?: boolean;
  /** Unix ms; for tests. */
  clock?: () => number;
}

/** What the service knows about the request it is verifying. */
export interface RequestFacts {
  method: string;
  /** The request target as received (`req.url`); the query is ignored. */
  url: string;
  /** The `x-request-id` header, if the gateway sent one. */
  requestId?: string;
}

export interface AssertionVerifier {
  /**
   * @throws GatehouseError ERR_SDK_ASSERTION_MISSING | _INVALID | _EXPIRED | _AUDIENCE | _BINDING | _REPLAYED, ERR_SDK_KEYS_UNAVAILABLE
   */
  verify(token: string | undefined, request?: RequestFacts): Promise<GatehouseIdentity>;
}

const MAX_TOKEN_LENGTH = 8192;

function stringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** The `approval` claim: absent, or exactly `{ id, approver }` with two non-empty strings. */
function approvalOf(v: unknown): GatehouseApproval | undefined | null {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const { id, approver } = v as Record<string, unknown>;
  if (typeof id !== 'string' || id === '' || typeof approver !== 'string' || approver === '') return null;
  return Object.freeze({ id, approver });
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * RFC 3986 §6.2.2 normalization: hex digits upper case, escaped unreserved characters decoded;
 * every other escape stays an escape. (decodeURI also decoded %25, so `%252F` — a literal
 * "%2F" — became `%2F`, an encoded slash, and matched a different path.)
 */
function normalizePath(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
  });
}

/** Paths are equal as sent, or after normalizing escapes (%2F stays %2F, %25 stays %25). */
function samePath(bound: string, actual: string): boolean {
  return bound === actual || normalizePath(bound) === normalizePath(actual);
}

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]']);

/**
 * The keys decide whose identity a service believes: fetched in clear text, anyone on the
 * path could hand over their own. https only, except on loopback (a gateway on the same host).
 */
function jwksLocation(jwksUrl: string | URL): URL {
  const url = new URL(jwksUrl);
  const loopback = LOOPBACK_HOSTS.has(url.hostname) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(url.hostname);
  if (url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) return url;
  throw new TypeError(`createAssertionVerifier: jwksUrl must be https (http only on loopback), got ${url.protocol}//${url.host}`);
}

function mapJoseError(err: unknown): GatehouseError {
  if (err instanceof errors.JWTExpired) return new GatehouseError('ERR_SDK_ASSERTION_EXPIRED', { detail: err.message, cause: err });
  if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud') return new GatehouseError('ERR_SDK_ASSERTION_AUDIENCE', { detail: err.message, cause: err });
  if (err instanceof errors.JWKSTimeout) return new GatehouseError('ERR_SDK_KEYS_UNAVAILABLE', { detail: err.message, cause: err });
  if (err instanceof errors.JOSEError) return new GatehouseError('ERR_SDK_ASSERTION_INVALID', { detail: `${err.code}: ${err.message}`, cause: err });
  // Anything else (network failure fetching the JWKS…): the keys are unavailable, not the token bad.
  return new GatehouseError('ERR_SDK_KEYS_UNAVAILABLE', { detail: err instanceof Error ? err.message : String(err), cause: err });
}

/**
 * @example
 *   const verifier = createAssertionVerifier({
 *     jwksUrl: 'https://gateway.example/.well-known/gatehouse/assertion-jwks.json',
 *     issuer: 'https://gateway.example',
 *     audience: 'mail-store',
 *   });
 *   const identity = await verifier.verify(req.headers['x-gatehouse-identity'], { method: req.method, url: req.url });
 */
export function createAssertionVerifier(options: AssertionVerifierOptions): AssertionVerifier {
  let keys: JWTVerifyGetKey;
  if (options.jwks) keys = createLocalJWKSet(options.jwks);
  else if (options.jwksUrl) {
    keys = createRemoteJWKSet(jwksLocation(options.jwksUrl), {
      timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000,
      // jose reads the whole answer before parsing it: bounded, so that a broken or hostile endpoint cannot exhaust the service's memory.
      [customFetch]: boundedFetch(options.ca ? fetchTrusting(options.ca) : fetch) as never,
    });
  }
  else throw new TypeError('createAssertionVerifier: jwksUrl or jwks is required');
  const tolerance = options.clockToleranceSeconds ?? 5;
  const clock = options.clock ?? Date.now;
  const seen = new Map<string, number>();

  function rememberRequestId(rid: string, exp: number, now: number): void {
    // Ids are remembered in arrival order and assertions share one lifetime, so the oldest
    // expire first: forget from the front and stop at the first live one. (Scanning the whole
    // map once it passed 10,000 ids cost O(live ids) per request when all were still live —
    // 5,000 req/s with 60 s assertions is 300,000 ids.)
    for (const [k, until] of seen) {
      if (until > now) break;
      seen.delete(k);
    }
    if (seen.has(rid)) throw new GatehouseError('ERR_SDK_ASSERTION_REPLAYED', { detail: `request id ${rid} seen before` });
    seen.set(rid, (exp + tolerance) * 1000);
  }

  return {
    async verify(token, request) {
      if (token === undefined || token === '') throw new GatehouseError('ERR_SDK_ASSERTION_MISSING');
      if (token.length > MAX_TOKEN_LENGTH) throw new GatehouseError('ERR_SDK_ASSERTION_INVALID', { detail: 'assertion too large' });
      const now = clock();
      let payload;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          algorithms: [IDENTITY_ASSERTION_ALG],
          typ: IDENTITY_ASSERTION_TYP,
          issuer: options.issuer,
          audience: options.audience,
          clockTolerance: tolerance,
          requiredClaims: ['sub', 'iat', 'exp', 'jti'],
          // Assertions live about a minute; a validly signed old one is still refused.
          maxTokenAge: 600,
          currentDate: new Date(now),
        }));
      } catch (err) {
        throw mapJoseError(err);
      }
      const p = payload as Record<string, unknown>;
      if (typeof p.sub !== 'string' || (p.kind !== 'user' && p.kind !== 'service') || !stringArray(p.roles) || !stringArray(p.amr)
        || typeof p.auth_method !== 'string' || (p.auth_time !== undefined && typeof p.auth_time !== 'number')) {
        throw new GatehouseError('ERR_SDK_ASSERTION_INVALID', { detail: 'assertion claims have the wrong shape' });
      }
      const approval = approvalOf(p.approval);
      if (approval === null) throw new GatehouseError('ERR_SDK_ASSERTION_INVALID', { detail: 'approval claim has the wrong shape' });
      const bound = p.htm !== undefined || p.htu !== undefined || p.rid !== undefined;
      // An approval is for one request; on an unbound assertion it could be replayed on any other.
      if (approval !== undefined && !bound) throw new GatehouseError('ERR_SDK_ASSERTION_BINDING', { detail: 'approval claim on an assertion not bound to a request' });
      if (options.requireRequestBinding) {
        if (!bound) throw new GatehouseError('ERR_SDK_ASSERTION_BINDING', { detail: 'assertion not bound to a request (cached mode) where a bound one is required' });
        if (request?.requestId === undefined) throw new GatehouseError('ERR_SDK_ASSERTION_BINDING', { detail: 'bound assertion without the request id' });
      }
      if (bound) {
        if (request === undefined) throw new GatehouseError('ERR_SDK_ASSERTION_BINDING', { detail: 'request-bound assertion verified without the request' });
        if (p.htm !== request.method) throw new GatehouseError('ERR_SDK_ASSERTION_BINDING', { detail: `bound to method ${String(p.htm)}, used with ${request.method}` });
        if (typeof p.htu !== 'string' || !samePath(p.htu, pathOf(request.url))) {
          throw new GatehouseError('ERR_SDK_ASSERTION_BINDING', { detail: `bound to path ${String(p.htu)}, used on ${pathOf(request.url)}` });
        }
        if (typeof p.rid !== 'string') throw new GatehouseError('ERR_SDK_ASSERTION_BINDING', { detail: 'bound assertion without request id' });
        if (request.requestId !== undefined && request.requestId !== p.rid) {
          throw new GatehouseError('ERR_SDK_ASSERTION_BINDING', { detail: `bound to request ${p.rid}, used with ${request.requestId}` });
        }
        if (options.rejectReplayedRequestIds) rememberRequestId(p.rid, Number(p.exp), now);
      }
      return Object.freeze({
        subject: p.sub,
        kind: p.kind,
        roles: Object.freeze([...p.roles]),
        amr: Object.freeze([...p.amr]),
        authMethod: p.auth_method,
        authTime: p.auth_time as number | undefined,
        issuer: String(p.iss),
        audience: options.audience,
        requestId: typeof p.rid === 'string' ? p.rid : undefined,
        approval,
        expiresAt: Number(p.exp),
        assertionId: String(p.jti),
      });
    },
  };
}
