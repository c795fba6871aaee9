/**
 * Host normalization shared by route compilation and request matching: lower-case,
 * port removed, one trailing dot removed (`Example.COM.:8443` → `example.com`,
 * `[::1]:8443` → `[::1]`). No validation: a host that is not a valid name simply
 * matches no host-bound route.
 */
import { isIPv4, isIPv6 } from 'node:net';

/**
 * Normalizes a Host header value (or a configured route host) for comparison.
 * Returns the input itself when it is already normal (no allocation on the hot path).
 */
export function normalizeHost(host: string): string {
  let length = host.length;
  let clean = true;
  for (let i = 0; i < length; i++) {
    const c = host.charCodeAt(i);
    if ((c >= 0x41 && c <= 0x5a) || c === 0x3a) { clean = false; break; } // upper-case or ':'
  }
  if (clean && (length === 0 || host.charCodeAt(length - 1) !== 0x2e)) return host;

  let h = host.toLowerCase();
  if (h.charCodeAt(0) === 0x5b) {
    // IPv6 literal: everything after ']' is the port.
    const close = h.indexOf(']');
    if (close !== -1) h = h.slice(0, close + 1);
  } else {
    const colon = h.indexOf(':');
    if (colon !== -1) h = h.slice(0, colon);
  }
  length = h.length;
  if (length > 1 && h.charCodeAt(length - 1) === 0x2e) h = h.slice(0, length - 1);
  return h;
}

let lastValidHost = '';

const HOST_HEADER = /^(?:[A-Za-z0-9._~-]+|\[([0-9A-Fa-f:.]+)\])(?::[0-9]{1,5})?$/;

/**
 * Whether a Host header value (or HTTP/2 `:authority`) is a plain `host[:port]`: a name
 * of letters, digits, `-`, `.`, `_`, `~`, or a bracketed IPv6 address, and an optional
 * numeric port, without empty labels. Anything else (userinfo `a@b`, spaces, quotes, percent-escapes, commas
 * from repeated fields) is refused: RFC 9112 §3.2 requires a 400 for an invalid Host, and
 * such values would otherwise reach upstreams in X-Forwarded-Host, where applications
 * build absolute URLs from them (host-header injection).
 */
export function isValidHostHeader(value: string): boolean {
  // Clients send the same few hosts: the last valid one is remembered (a string compare
  // instead of a regex and an IPv6 parse per request).
  if (value === lastValidHost && value !== '') return true;
  if (value.length === 0 || value.length > 261) return false;
  const m = HOST_HEADER.exec(value);
  if (m === null) return false;
  // An empty label (`a..b`, `secure.example..`) names no host; normalizeHost drops one trailing
  // dot, so `secure.example..` would have matched `secure.example` while policies saw another host.
  if (m[1] === undefined && value.includes('..')) return false;
  const valid = m[1] === undefined || isIPv6(m[1]);
  if (valid) lastValidHost = value;
  return valid;
}

const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const DNS_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/**
 * Why a configured route host is unusable, or undefined when it is fine.
 * Accepted: `*`, a DNS name (ASCII; IDNs in their `xn--` form), an IPv4 address, or a
 * bracketed IPv6 address; never a port.
 */
export function routeHostProblem(host: string): string | undefined {
  if (host === '*') return undefined;
  if (host.includes('*')) return 'only exact host names or "*" are supported (no wildcards like *.example.com)';
  if (/[^\x21-\x7e]/.test(host)) return 'must be ASCII without spaces (write an internationalized name in its xn-- form)';
  if (host.startsWith('[')) {
    if (!host.endsWith(']')) return 'must not contain a port';
    return isIPv6(host.slice(1, -1)) ? undefined : 'is not a valid IPv6 address';
  }
  if (isIPv6(host)) return 'write an IPv6 address in brackets, e.g. [::1]';
  if (host.includes(':')) return 'must not contain a port';
  const normal = normalizeHost(host);
  if (normal.length > 253) return 'is longer than 253 characters';
  if (isIPv4(normal) || DNS_NAME.test(normal)) return undefined;
  return 'is not a valid host name';
}
