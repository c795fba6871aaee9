/**
 * Names of the identity provider's cookies (oidc-provider adds a `.sig` companion to each).
 *
 * The session cookie is `__Host-`: browsers take it only when Secure, host-only and Path=/,
 * so a hostile sibling subdomain cannot plant an attacker's signed session pair with
 * `Domain=.<site>` and sign the victim in as the attacker at every relying party (login CSRF).
 * oidc-provider scopes the interaction and resume cookies to one interaction's path, which
 * `__Host-` forbids; they are `__Secure-` (Secure required, nothing more), so a sibling can
 * still plant them: each interaction is also bound to {@link IDP_BROWSER_COOKIE}.
 */
export const IDP_COOKIE_NAMES = {
  session: '__Host-gh_idp_session',
  interaction: '__Secure-gh_idp_interaction',
  resume: '__Secure-gh_idp_resume',
} as const;

/**
 * Gatehouse's own `__Host-` cookie binding every interaction to the browser that started it
 * (src/identity/interaction/browser-binding.ts): a planted interaction or resume cookie is
 * refused in any other browser.
 */
export const IDP_BROWSER_COOKIE = '__Host-gh_idp_browser';
