/**
 * Bearer JWT authentication with a verified-token cache. A cache hit is synchronous: a hash of
 * the token, a map lookup, the expiry, the revocation set and the route's audiences. The cache
 * is keyed by a hash of the whole token and each entry lives until the token's `exp` (for an
 * issuer whose principals are in the directory, at most `principalTtlMs`); it is emptied of a
 * token on revocation (by issuer and jti) and of a subject on any principal change, on every
 * instance.
 */
import { hash } from 'node:crypto';
import { GatehouseError } from '../core/errors.ts';
import type { Identity } from '../gateway/context.ts';
import { ExpiringLru } from './lru-cache.ts';
import { audienceAccepted, type JwtVerifier, type VerifiedJwt } from './jwt/jwt-verifier.ts';
import { issuerQualifiedSubject, requireEnabledPrincipal, signedOutSince } from './principal.ts';
import { usedMfa } from './mfa.ts';
import type { RevocationList } from './revocation-list.ts';
import type { OnInvalidate, PrincipalLookup } from './types.ts';
import { readTokenBinding, type TokenBinding } from './binding/token-binding.ts';

/** The audiences a route accepts: its own list, else the issuer's, else `fallback`. */
export interface AudienceRule {
  route: readonly string[] | undefined;
  fallback: readonly string[];
}

/**
 * A verified token: who it stands for and what it is bound to. The caller must check the
 * binding on every request, from the cache or not (the stage does).
 */
export interface AuthenticatedJwt {
  readonly identity: Identity;
  readonly binding: TokenBinding | undefined;
}

interface CachedJwt extends AuthenticatedJwt {
  aud: unknown;
  issuerAudiences: readonly string[] | undefined;
  /** The verified issuer: with `jti`, what a revocation names. */
  issuer: string;
  jti: string | undefined;
  subject: string;
}

export interface JwtAuthenticatorOptions {
  verifier: JwtVerifier;
  revocations: RevocationList;
  /** Required when any issuer uses `principals: directory` (Gatehouse's own issuer does). */
  principals: PrincipalLookup | undefined;
  onInvalidate: OnInvalidate;
  maxCacheEntries: number;
  /**
   * Longest a token of a `principals: directory` issuer stays cached before its principal is
   * read again (default 30 s). Its `principal.changed` event empties the cache at once, but
   * such an event may never come: a change made by the CLI while the gateway runs on the
   * in-process bus, or an event lost in a bus partition. Without this bound a disabled user's
   * or removed service's cached tokens were accepted until `exp`.
   */
  principalTtlMs?: number | undefined;
}

const DEFAULT_PRINCIPAL_TTL_MS = 30_000;

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

export class JwtAuthenticator {
  readonly #options: JwtAuthenticatorOptions;
  readonly #cache: ExpiringLru<CachedJwt>;
  readonly #unsubscribe: () => void;
  /**
   * Counts invalidations. A verification during which one arrived caches nothing: the
   * directory read it made may be from before the change the event announces, and the event
   * has already emptied the cache, so nothing else would drop that entry before `exp`.
   */
  #generation = 0;

  constructor(options: JwtAuthenticatorOptions) {
    this.#options = options;
    this.#cache = new ExpiringLru(options.maxCacheEntries);
    this.#unsubscribe = options.onInvalidate((event) => {
      if (event.type === 'token.revoked') {
        this.#generation++;
        this.#cache.deleteWhere((e) => e.jti === event.jti && e.issuer === event.issuer);
      } else if (event.type === 'principal.changed') {
        this.#generation++;
        this.#cache.deleteWhere((e) => e.subject === event.subject);
      }
    });
  }

  /**
   * Forgets every verified token of `issuer`: the next use verifies it again, against the keys
   * published then. Called when Gatehouse's own keys are loaded again, so that a withdrawn key's
   * tokens are refused at once instead of when their cache entries lapse.
   */
  forgetIssuer(issuer: string): void {
    this.#generation++;
    this.#cache.deleteWhere((e) => e.issuer === issuer);
  }

  static cacheKey(token: string): string {
    return hash('sha256', token, 'base64url');
  }

  /**
   * A token verified before, or undefined on a cache miss. Throws when the cached token is
   * now revoked or not meant for this route. Its binding is still to be checked.
   */
  cached(key: string, audiences: AudienceRule, nowMs = Date.now()): AuthenticatedJwt | undefined {
    const entry = this.#cache.get(key, nowMs);
    if (entry === undefined) return undefined;
    this.#check(entry, audiences);
    return entry;
  }

  /** Full verification; caches the result. Rejects with an ERR_AUTHN_* GatehouseError. Its binding is still to be checked. */
  async authenticate(token: string, key: string, audiences: AudienceRule): Promise<AuthenticatedJwt> {
    const generation = this.#generation;
    const verified = await this.#options.verifier.verify(token);
    const entry = await this.#toEntry(verified);
    this.#check(entry, audiences);
    // Cache only after every check passed; the entry outlives the audience check because audience is per route.
    if (generation === this.#generation) {
      const expiresAt = (verified.payload.exp + verified.issuer.clockSkewSec) * 1000;
      const principalReadUntil = verified.issuer.principals === 'directory' ? Date.now() + (this.#options.principalTtlMs ?? DEFAULT_PRINCIPAL_TTL_MS) : Infinity;
      this.#cache.set(key, entry, Math.min(expiresAt, principalReadUntil));
    }
    return entry;
  }

  #check(entry: CachedJwt, audiences: AudienceRule): void {
    if (entry.jti !== undefined && this.#options.revocations.isRevoked(entry.issuer, entry.jti)) {
      throw new GatehouseError('ERR_AUTHN_TOKEN_REVOKED', { detail: `jti ${entry.jti} of ${entry.issuer}` });
    }
    const accepted = audiences.route ?? entry.issuerAudiences ?? audiences.fallback;
    if (!audienceAccepted(entry.aud, accepted)) {
      throw new GatehouseError('ERR_AUTHN_TOKEN_AUDIENCE', { detail: `aud ${JSON.stringify(entry.aud)} not in ${JSON.stringify(accepted)}` });
    }
  }

  async #toEntry({ payload, issuer }: VerifiedJwt): Promise<CachedJwt> {
    const jti = typeof payload.jti === 'string' ? payload.jti : undefined;
    if (jti !== undefined && this.#options.revocations.isRevoked(issuer.issuer, jti)) {
      throw new GatehouseError('ERR_AUTHN_TOKEN_REVOKED', { detail: `jti ${jti} of ${issuer.issuer}` });
    }
    // Read before anything is cached: a token bound in a way we cannot check is refused, never cached.
    const binding = readTokenBinding(payload.cnf);
    const amr = stringArray(payload.amr);
    const authTime = typeof payload.auth_time === 'number' ? payload.auth_time : undefined;
    let kind = issuer.kind;
    let roles: readonly string[] = issuer.mapRoles(stringArray(payload[issuer.rolesClaim]));
    let attributes: Record<string, unknown> = {};
    // An issuer that names its own principals names them in its own namespace: its `sub`
    // "usr_…" or "spiffe://…/svc/mail" is not Gatehouse's principal of that id, nor another
    // issuer's "alice" the same as this one's (blocks, counts, limits, policies, assertion).
    let subject = issuerQualifiedSubject(issuer.issuer, payload.sub);
    if (issuer.principals === 'directory') {
      if (this.#options.principals === undefined) throw new GatehouseError('ERR_AUTHN_UNAVAILABLE', { detail: 'no principal directory configured' });
      const principal = await requireEnabledPrincipal(this.#options.principals, payload.sub);
      // Issued before the user's credentials were reset (or the user disabled): over, like
      // every session and refresh token from before at the identity provider.
      if (signedOutSince(principal, typeof payload.iat === 'number' ? payload.iat : undefined)) {
        throw new GatehouseError('ERR_AUTHN_TOKEN_REVOKED', { detail: `issued before ${payload.sub} was signed out everywhere at ${principal.signedOutAt}` });
      }
      subject = principal.subject;
      kind = principal.kind;
      roles = principal.roles;
      attributes = { ...principal.attributes };
    }
    if (typeof payload.scope === 'string') attributes.scope = payload.scope;
    if (typeof payload.client_id === 'string') attributes.clientId = payload.client_id;
    if (binding !== undefined) attributes.tokenBinding = binding.jkt !== undefined ? 'dpop' : 'mtls';
    const identity: Identity = Object.freeze({
      subject,
      kind,
      roles: Object.freeze([...roles]),
      method: binding?.jkt !== undefined ? 'dpop' : 'jwt',
      amr: Object.freeze(amr),
      authTime,
      mfaTime: usedMfa(amr) ? authTime : undefined,
      credentialId: jti,
      issuer: issuer.issuer,
      attributes: Object.freeze(attributes),
      expiresAt: payload.exp * 1000,
    });
    return { identity, binding, aud: payload.aud, issuerAudiences: issuer.audiences, issuer: issuer.issuer, jti, subject: payload.sub };
  }

  close(): void { this.#unsubscribe(); }
}
