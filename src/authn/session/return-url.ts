/**
 * Where a browser may be sent after login or logout: only a path on this origin. Anything that
 * a browser could read as another origin (`//evil`, `/\evil`, `https://evil`, control
 * characters, backslashes) is refused, so the login flow is not an open redirect.
 */
import { GatehouseError } from '../../core/errors.ts';

const MAX_RETURN_URL = 2048;

/**
 * Returns the normalized same-origin path (path + query) or throws ERR_AUTHN_RETURN_URL_INVALID.
 * @param origin the gateway's public origin, e.g. `https://gw.example.com`
 */
export function safeReturnPath(candidate: string, origin: string): string {
  const refuse = (why: string) => new GatehouseError('ERR_AUTHN_RETURN_URL_INVALID', { detail: `${why}: ${JSON.stringify(candidate.slice(0, 200))}` });
  if (candidate.length === 0 || candidate.length > MAX_RETURN_URL) throw refuse('empty or too long');
  if (!candidate.startsWith('/') || candidate.startsWith('//')) throw refuse('not an absolute path');
  // Browsers treat "\" as "/" and strip tabs/newlines, so "/\evil.com" and "/\t/evil.com" leave the origin.
  if (/[\\\u0000-\u001f\u007f]/.test(candidate)) throw refuse('backslash or control character');
  let url: URL;
  try {
    url = new URL(candidate, origin);
  } catch (error) {
    throw new GatehouseError('ERR_AUTHN_RETURN_URL_INVALID', { detail: 'unparsable', cause: error });
  }
  if (url.origin !== new URL(origin).origin) throw refuse('leaves the origin');
  // Dot segments are resolved by the parser: "/.//evil.com" becomes the path "//evil.com",
  // which a browser reads in a Location header as another host.
  if (url.pathname.startsWith('//')) throw refuse('resolves to a network-path reference');
  if (url.pathname.startsWith('/_gatehouse/auth/')) return '/';
  return url.pathname + url.search;
}
