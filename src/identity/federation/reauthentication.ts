/**
 * A relying party's demand for a fresh sign-in (`prompt=login`, `max_age`; OIDC Core 3.1.2.1),
 * carried over to the external provider a user signs in through, and checked in the ID token
 * that provider returns.
 *
 * Gatehouse answers such a request with its password form for its own accounts and stamps the
 * sign-in with the current time. A federated sign-in gets the same stamp, so unless the external
 * provider is asked for a fresh authentication too, the browser's old session there signs the
 * user in without any password, and Gatehouse's ID token tells the relying party the user has
 * just authenticated. Providers may ignore `prompt=login` (it is a SHOULD), so the answer is
 * checked: with `max_age` sent, openid-client requires `auth_time` within it; with
 * `prompt=login`, `auth_time` must not be older than the moment the browser was sent there.
 */

/** What the authorization request demands of the sign-in's freshness. */
export interface Reauthentication {
  /** `prompt=login` (or `max_age=0`, which oidc-provider turns into it). */
  login: boolean;
  /** `max_age` in seconds, when the request had one. */
  maxAge?: number;
}

/** How far the external provider's clock may be from ours. */
const CLOCK_SKEW_SEC = 60;

/** Reads the demand from the authorization request's parameters (oidc-provider's interaction details). */
export function reauthenticationOf(params: Record<string, unknown>): Reauthentication {
  const login = typeof params.prompt === 'string' && params.prompt.split(' ').includes('login');
  const maxAge = typeof params.max_age === 'string' || typeof params.max_age === 'number' ? Number(params.max_age) : Number.NaN;
  return { login, ...(Number.isSafeInteger(maxAge) && maxAge >= 0 ? { maxAge } : {}) };
}

/** The parameters of the external authorization request that pass the demand on. */
export function reauthenticationParams(demand: Reauthentication): Record<string, string> {
  return {
    ...(demand.login ? { prompt: 'login' } : {}),
    ...(demand.maxAge !== undefined ? { max_age: String(demand.maxAge) } : {}),
  };
}

/**
 * Why the external ID token's `auth_time` does not meet `prompt=login`, or undefined when it does
 * (or none was asked). `max_age` is checked by openid-client (`maxAge`). `startedAt`: epoch
 * seconds when the browser was sent to the provider.
 */
export function staleReauthentication(demand: Reauthentication, authTime: unknown, startedAt: number, now = Math.floor(Date.now() / 1000)): string | undefined {
  if (!demand.login) return undefined;
  if (typeof authTime !== 'number' || !Number.isSafeInteger(authTime)) return 'prompt=login answered without auth_time';
  if (authTime < startedAt - CLOCK_SKEW_SEC) return `prompt=login answered with an authentication from ${startedAt - authTime}s before the sign-in began`;
  if (authTime > now + CLOCK_SKEW_SEC) return 'auth_time in the future';
  return undefined;
}
