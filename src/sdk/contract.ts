/**
 * The wire contract between the gateway (which signs identity assertions) and protected
 * services (which verify them). Both sides import these names from here, so they cannot
 * drift apart.
 */

/** Request header that carries the signed identity assertion (a compact JWS). */
export const IDENTITY_ASSERTION_HEADER = 'x-gatehouse-identity';

/** Plain identity headers for legacy upstreams (`upstreamIdentity.headers: true`); unsigned, trust them only behind mTLS. */
export const IDENTITY_SUBJECT_HEADER = 'x-gatehouse-subject';
export const IDENTITY_ROLES_HEADER = 'x-gatehouse-roles';
export const IDENTITY_KIND_HEADER = 'x-gatehouse-kind';

/**
 * JWS `typ` of identity assertions. Verifiers require it, so no other JWT from the same
 * issuer (an access token, an ID token) can be passed off as an assertion.
 */
export const IDENTITY_ASSERTION_TYP = 'gatehouse-identity+jwt';

/** Only algorithm used and accepted. */
export const IDENTITY_ASSERTION_ALG = 'ES256';

/** Path (on the gateway's public URL) of the JWKS with the assertion verification keys. */
export const IDENTITY_ASSERTION_JWKS_PATH = '/.well-known/gatehouse/assertion-jwks.json';

/** Claims of an identity assertion. */
export interface IdentityAssertionClaims {
  iss: string;
  /** Name of the upstream the assertion is for. */
  aud: string;
  sub: string;
  /** Principal kind. */
  kind: 'user' | 'service';
  roles: string[];
  /** RFC 8176 authentication method references. */
  amr: string[];
  /** How the gateway authenticated the request: `session` | `jwt` | `api_token` | `mtls` | `dpop`. */
  auth_method: string;
  /** Unix seconds of the login, when known. */
  auth_time?: number;
  iat: number;
  exp: number;
  jti: string;
  /** Per-request binding: request id. */
  rid?: string;
  /** Per-request binding: HTTP method. */
  htm?: string;
  /** Per-request binding: path as sent to the upstream (no query). */
  htu?: string;
  /**
   * The second person's approval this request consumed (routes with `approval`): its id and
   * the approver's subject. Only ever in a request-bound assertion (`rid`, `htm`, `htu`).
   */
  approval?: { id: string; approver: string };
}
