/**
 * The two cookies of the browser login. `__Host-` makes the browser refuse them unless they are
 * Secure, host-only and Path=/, so a sibling subdomain cannot plant or overwrite them.
 */
export const SESSION_COOKIE = '__Host-gatehouse-session';
export const LOGIN_COOKIE = '__Host-gatehouse-login';

/** Every value of cookie `name` in a Cookie header (more than one means someone is tossing cookies). */
export function readCookie(header: string | undefined, name: string): string[] {
  if (header === undefined || !header.includes(name)) return [];
  const values: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) values.push(part.slice(eq + 1).trim());
  }
  return values;
}

/** Set-Cookie value for a cookie of ours; `maxAgeSec` 0 deletes it. */
export function serializeCookie(name: string, value: string, maxAgeSec: number): string {
  return `${name}=${value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=${Math.max(0, Math.floor(maxAgeSec))}`;
}

/**
 * Cookies that belong to Gatehouse itself: the gateway's session and login cookies, and the
 * identity provider's (`__Host-gh_idp_session`, `__Secure-gh_idp_interaction`,
 * `__Secure-gh_idp_resume`, their `.sig` companions, and `__Host-gh_idp_browser`, which binds
 * sign-ins to the browser; see src/identity/oidc/cookie-names.ts).
 * The IdP's session cookie is scoped to `/`, so browsers send it with every request; an
 * upstream that saw it could act at the IdP as the user. The names from before the prefixes
 * (`gh_idp_*`) are still in browsers until they expire; they are kept from upstreams too.
 */
const OUR_PREFIXES = ['__Host-gatehouse-', '__Host-gh_idp_', '__Secure-gh_idp_', 'gh_idp_'] as const;
const OUR_PREFIXES_LOWER = OUR_PREFIXES.map((prefix) => prefix.toLowerCase());

function isOurs(part: string): boolean {
  const name = part.trimStart();
  return OUR_PREFIXES.some((prefix) => name.startsWith(prefix));
}

/**
 * The Cookie header without Gatehouse's own cookies, for the upstream: they are credentials
 * of the gateway and the IdP and must never reach a service behind it. Undefined when nothing
 * is left.
 */
export function withoutGatehouseCookies(header: string): string | undefined {
  const kept = header.split(';').filter((part) => !isOurs(part)).map((part) => part.trim()).filter((part) => part !== '');
  return kept.length === 0 ? undefined : kept.join('; ');
}

/** True when the Cookie header may carry one of Gatehouse's cookies (a cheap pre-check). */
export function mayCarryGatehouseCookie(header: string | undefined): header is string {
  return header !== undefined && (header.includes('__Host-gatehouse-') || header.includes('gh_idp_'));
}

/**
 * True when a Set-Cookie value (from an upstream) would set one of Gatehouse's own cookies.
 * A service behind the gateway must not be able to plant a session of its choosing in the
 * user's browser (session fixation) or overwrite the IdP's: such fields are dropped before the
 * response reaches the client. Compared without case: browsers apply the `__Host-` rules to
 * any spelling of the prefix, and an upstream gains nothing from a near-miss name either way.
 */
export function setsGatehouseCookie(setCookie: string): boolean {
  const name = setCookie.trimStart().toLowerCase();
  return OUR_PREFIXES_LOWER.some((prefix) => name.startsWith(prefix));
}
