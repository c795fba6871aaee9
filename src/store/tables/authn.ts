/**
 * Tables of the gateway's authentication (src/authn): browser sessions, pending logins,
 * revoked JWTs and seen DPoP proofs. Timestamps are epoch milliseconds in `bigint`
 * columns, JSON is `text` (docs/store.md conventions).
 */
import type { ColumnType } from 'kysely';

/** One server-side browser session. The id is the SHA-256 of the cookie value, never the value. */
export interface AuthnSessionsTable {
  id: string;
  subject: string;
  issuer: string;
  /** JSON array of RFC 8176 amr values. */
  amr: string;
  /** Epoch seconds of the login at the IdP (an OIDC `auth_time`), or null. */
  auth_time: number | null;
  created_at: ColumnType<number, number, never>;
  last_seen_at: number;
  expires_at: number;
}

/** A login started at /_gatehouse/auth/login and not yet finished. The id is a hash of the cookie value. */
export interface AuthnLoginStatesTable {
  id: string;
  state: string;
  nonce: string;
  code_verifier: string;
  return_to: string;
  expires_at: number;
}

/**
 * A revoked JWT, by issuer and id (a `jti` is unique only within its issuer), kept until the
 * token would have expired anyway. Issuer '' marks a revocation recorded before revocations
 * named the issuer (migration 0006): it applies to every issuer.
 */
export interface AuthnRevokedJwtsTable {
  issuer: string;
  jti: string;
  expires_at: number;
  created_at: ColumnType<number, number, never>;
}

/** A DPoP proof already presented (RFC 9449 §11.1), kept until its `iat` leaves the acceptance window. */
export interface AuthnDpopProofsTable {
  /** SHA-256 of the proof key's thumbprint and the proof's `jti`. */
  id: string;
  expires_at: number;
}

export interface AuthnTables {
  authn_sessions: AuthnSessionsTable;
  authn_login_states: AuthnLoginStatesTable;
  authn_revoked_jwts: AuthnRevokedJwtsTable;
  authn_dpop_proofs: AuthnDpopProofsTable;
}
