/**
 * The client's address, believing forwarding headers only from trusted proxies.
 *
 * Untrusted peer: the client is the TCP peer. X-Forwarded-For, Forwarded and X-Real-IP
 * are ignored (and stripped before forwarding), whatever they say.
 *
 * Trusted peer: X-Forwarded-For is walked **from the right**. Each proxy appends the
 * address it saw connecting to it, so the right end is written by the proxies closest to
 * Gatehouse and the left end by whoever sent the request first, which may be an
 * attacker typing `X-Forwarded-For: 127.0.0.1`. Walking right-to-left and stopping at
 * the first address that is not a trusted proxy yields the address a trusted proxy
 * actually saw; everything to its left is unverifiable and is dropped. Taking the
 * leftmost entry instead (a common mistake) lets any client choose its own address.
 * Only X-Forwarded-For is read: one header, so that two headers cannot disagree.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { TrustPredicate } from './trusted-proxies.ts';

/** Most X-Forwarded-For entries examined; a longer chain stops at the last trusted hop. */
export const MAX_FORWARDED_HOPS = 32;

export interface ClientAddress {
  /** The client's address (IPv4-mapped IPv6 written as IPv4). */
  address: string;
  /** Whether the TCP peer is a trusted proxy. */
  peerTrusted: boolean;
  /**
   * The addresses for the upstream's X-Forwarded-For and Forwarded: the client first,
   * then each trusted hop, the TCP peer last. `[peer]` when the peer is untrusted.
   */
  chain: readonly string[];
}

/** An address in the form used everywhere after accept: IPv4-mapped IPv6 as IPv4, IPv6 lower-case. */
export function canonicalAddress(address: string): string {
  if (address.length > 7 && address.charCodeAt(0) === 0x3a && /^::ffff:/i.test(address)) {
    const v4 = address.slice(7);
    if (isIPv4(v4)) return v4;
  }
  return address.includes(':') ? address.toLowerCase() : address;
}

const MAPPED_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/**
 * An IPv6 address from a header in its one canonical form (RFC 5952, via the URL parser),
 * IPv4-mapped ones as IPv4. Unlike socket addresses, header text can spell one address many
 * ways (`2001:DB8:0::1`, `0:0:0:0:0:ffff:1.2.3.4`, `::ffff:102:304`): each spelling would be
 * another key for address blocks and per-address counts and limits.
 */
function canonicalForwardedIPv6(address: string): string | undefined {
  // A zone id (`fe80::1%eth0`) passes isIPv6 but names no address another host could use.
  const host = URL.parse(`http://[${address}]/`)?.hostname;
  if (host === undefined) return undefined;
  const v6 = host.slice(1, -1);
  const mapped = MAPPED_HEX.exec(v6);
  if (mapped === null) return v6;
  const high = parseInt(mapped[1]!, 16);
  const low = parseInt(mapped[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/** One X-Forwarded-For entry as an address (port and IPv6 brackets removed), or undefined. */
export function parseForwardedAddress(entry: string): string | undefined {
  let value = entry.trim();
  if (value.charCodeAt(0) === 0x5b) {
    const close = value.indexOf(']');
    if (close === -1) return undefined;
    value = value.slice(1, close);
    return isIPv6(value) ? canonicalForwardedIPv6(value) : undefined;
  }
  const colon = value.indexOf(':');
  if (colon !== -1 && value.indexOf(':', colon + 1) === -1) value = value.slice(0, colon); // a.b.c.d:port
  if (isIPv4(value)) return value;
  return isIPv6(value) ? canonicalForwardedIPv6(value) : undefined;
}

/**
 * Resolves the client address of a request.
 *
 * @param peerAddress `req.socket.remoteAddress` ('' when the socket is already gone).
 * @param forwardedFor `req.headers['x-forwarded-for']` (Node joins repeated fields with ', ').
 * @param isTrusted from `compileTrustedProxies(config.trustedProxies)`.
 */
export function resolveClientAddress(
  peerAddress: string,
  forwardedFor: string | readonly string[] | undefined,
  isTrusted: TrustPredicate,
): ClientAddress {
  const peer = canonicalAddress(peerAddress);
  const peerTrusted = peer !== '' && isTrusted(peer);
  if (!peerTrusted || forwardedFor === undefined) return { address: peer, peerTrusted, chain: [peer] };

  const entries = (typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',')).split(',');
  const reversed = [peer];
  let address = peer;
  const stop = Math.max(0, entries.length - MAX_FORWARDED_HOPS);
  for (let i = entries.length - 1; i >= stop; i--) {
    const hop = parseForwardedAddress(entries[i]!);
    // Garbage written by a trusted proxy's client: the last trusted hop is all we know.
    if (hop === undefined) break;
    address = hop;
    reversed.push(hop);
    if (!isTrusted(hop)) break;
  }
  return { address, peerTrusted, chain: reversed.reverse() };
}

/**
 * The protocol the client used: X-Forwarded-Proto of a trusted peer when it is exactly
 * `http` or `https`, else the protocol of Gatehouse's own listener.
 */
export function resolveProtocol(listenerProtocol: 'http' | 'https', forwardedProto: string | readonly string[] | undefined, peerTrusted: boolean): 'http' | 'https' {
  if (!peerTrusted || typeof forwardedProto !== 'string') return listenerProtocol;
  // A chain of proxies may append; the rightmost value was written by the closest one.
  const comma = forwardedProto.lastIndexOf(',');
  const value = (comma === -1 ? forwardedProto : forwardedProto.slice(comma + 1)).trim().toLowerCase();
  return value === 'https' || value === 'http' ? value : listenerProtocol;
}
