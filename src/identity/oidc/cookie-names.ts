/**
 * Names of the identity provider's cookies (oidc-provider adds a `.sig` companion to each).
 *
 * The session cookie is `__Host-`: browsers take it only when Secure, host-only and Path=/,
 * so a hostile sibling subdomain cannot plant an attacker's signed session pair with
 * `Domain=.<site>` and sign the victim in as the attacker at every relying party (login CSRF).
 * oidc-provider scopes the interaction and resume cookies to one interaction's path, which
 * `__Host-` forbids; they are `__Secure-` (Secure required, nothing more).
 */
export const IDP_COOKIE_NAMES = {
  session: '__Host-gh_idp_session',
  interaction: '__Secure-gh_idp_interaction',
  resume: '__Secure-gh_idp_resume',
} as const;
