/**
 * Strict-Transport-Security (RFC 6797) on HTTPS responses: once a browser has seen it, it
 * goes to the host over HTTPS only, so the plain-HTTP redirect listener can no longer be
 * used to strip TLS from a user who types or follows an `http://` address.
 *
 * The value is built once per generation (config `listeners.https.hsts`). It is left off
 * for `localhost` and IP literals: browsers ignore it for IPs (RFC 6797 §8.1), and on
 * `localhost` it would force HTTPS on every other local service a developer runs, whatever
 * its port.
 */
import type { Config } from '../../core/config/schema.ts';
import type { RequestContext } from '../context.ts';

export function hstsValue(config: Config): string | undefined {
  const h = config.listeners.https.hsts;
  if (!h.enabled) return undefined;
  return `max-age=${h.maxAgeSeconds}${h.includeSubDomains ? '; includeSubDomains' : ''}${h.preload ? '; preload' : ''}`;
}

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/** The field for this request's response, or undefined (off, or a host it must not be sent for). */
export function hstsFor(ctx: RequestContext): string | undefined {
  const value = ctx.gen.hsts;
  if (value === undefined) return undefined;
  const host = ctx.host;
  if (host === 'localhost' || host.endsWith('.localhost') || host.charCodeAt(0) === 91 /* [ */ || host === '') return undefined;
  const c = host.charCodeAt(0);
  if (c >= 48 && c <= 57 && IPV4.test(host)) return undefined;
  return value;
}
