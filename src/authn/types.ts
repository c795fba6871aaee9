/**
 * The small interfaces the authentication stage depends on. The identity provider, the store,
 * the bus and the PKI implement them; tests use real implementations where they exist and
 * simple in-memory ones where a component has not landed yet.
 */

/** A user or service account as the directory knows it. */
export interface Principal {
  subject: string;
  kind: 'user' | 'service';
  roles: readonly string[];
  /** A disabled principal is refused everywhere, on the next request. */
  disabled: boolean;
  /**
   * Epoch seconds: every sign-in at or before it has ended (an administrator reset the
   * password or MFA, or disabled the user) — sessions and tokens from before are refused.
   */
  signedOutAt?: number;
  attributes?: Readonly<Record<string, unknown>>;
}

/**
 * Looks principals up by subject (the IdP's `PrincipalDirectory.getPrincipal`).
 * Resolves `undefined` for an unknown subject; rejects only when the directory is unreachable.
 */
export interface PrincipalLookup {
  getPrincipal(subject: string): Promise<Principal | undefined>;
}

/** What a valid API token stands for. */
export interface ApiTokenInfo {
  /** Stable, non-secret id of the token (for audit, revocation and `Identity.credentialId`). */
  tokenId: string;
  subject: string;
  /**
   * The token's effective roles (a token may carry fewer roles than its owner). Omitted: the
   * owner's roles.
   */
  roles?: readonly string[];
  /** Epoch seconds; omitted for tokens without expiry. */
  expiresAt?: number;
}

/**
 * Verifies `ghs_…` API tokens (the IdP's `verifyApiToken`). Resolves `undefined` for an unknown,
 * expired or revoked token; rejects only when the directory is unreachable.
 */
export interface ApiTokenVerifier {
  verifyApiToken(token: string): Promise<ApiTokenInfo | undefined>;
}

/**
 * Something that makes cached authentication results stale, on every instance.
 * Carried by the event bus; `src/authn` only needs this subscription shape.
 */
export type AuthnInvalidation =
  | { type: 'token.revoked'; issuer: string; jti: string; /** epoch seconds; the entry can be forgotten after */ expiresAt: number }
  | { type: 'principal.changed'; subject: string }
  | { type: 'session.revoked'; sessionId: string }
  | { type: 'sessions.revoked'; subject: string }
  | { type: 'api-token.revoked'; tokenId: string };

/** Subscribes to invalidations; returns the unsubscribe function. */
export type OnInvalidate = (listener: (event: AuthnInvalidation) => void) => () => void;

/** Publishes an invalidation to every instance (including this one). */
export type PublishInvalidation = (event: AuthnInvalidation) => Promise<void>;

/** A revoked JWT. A `jti` is unique only within its issuer, so both name the token. */
export interface RevokedJwt {
  /**
   * The token's `iss`; undefined for a revocation recorded before revocations named the
   * issuer, which applies to a token of that `jti` from any issuer.
   */
  issuer: string | undefined;
  jti: string;
  /** Epoch seconds. */
  expiresAt: number;
}

/** Revoked JWTs, shared by all instances through the store. */
export interface RevokedTokenStore {
  add(issuer: string, jti: string, expiresAt: number): Promise<void>;
  /** Every entry not yet expired at `now` (epoch seconds). */
  listActive(now: number): Promise<RevokedJwt[]>;
  /** Deletes entries expired before `now`; returns how many. */
  prune(now: number): Promise<number>;
}
