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
