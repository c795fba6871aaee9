/**
 * Client addresses as detection counts and blocks them, and as the rate limiters key them.
 *
 * The one spelling of an IP address that blocks are stored and looked up under is the form
 * the gateway's accept stage gives `ctx.clientAddress` (IPv4 dotted, IPv4-mapped IPv6 as
 * IPv4, IPv6 lower-case and compressed as RFC 5952 writes it). A block is a map lookup by
 * string, so `2001:DB8::1`, `2001:db8:0:0:0:0:0:1` or `::ffff:192.0.2.1` typed by an
 * operator must become the string the client's requests carry, or the block never matches.
 *
 * One IPv6 client is a /64, not an address: a subscriber line or a cloud VM gets at least
 * a /64 (RFC 6177) and picks any of its 2^64 addresses per connection, so counting or
 * blocking single IPv6 addresses lets one client spread its attempts below every threshold
 * and step around every block.
 */
import { isIP } from 'node:net';
import { ipv6Prefix } from '../../ratelimit/ipv6-prefix.ts';
import { canonicalAddress } from './client-address.ts';

/** `::ffff:a.b.c.d` as the URL parser writes it: the IPv4 part in two hex groups. */
const MAPPED_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/** The canonical spelling of an IP address, or undefined when `value` is not one. */
export function canonicalIp(value: string): string | undefined {
  const kind = isIP(value);
  if (kind === 4) return value;
  if (kind !== 6) return undefined;
  // A zone (`fe80::1%eth0`) is not a URL host; such an address is only lower-cased.
  if (value.includes('%')) return canonicalAddress(value);
  // The WHATWG URL serializer writes IPv6 hosts in the RFC 5952 form, as Node's sockets do.
  const compressed = new URL(`http://[${value}]/`).hostname.slice(1, -1);
  const mapped = MAPPED_HEX.exec(compressed);
  if (!mapped) return compressed;
  const hi = Number.parseInt(mapped[1]!, 16);
  const lo = Number.parseInt(mapped[2]!, 16);
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/** A /64 network as blocks and counters spell it: `2001:db8:1:2::/64`. */
const NETWORK_SUFFIX = '/64';

/** The eight 16-bit groups of a valid IPv6 address without zone (as isIP accepts it). */
function groups(v6: string): number[] {
  const half = (part: string): number[] => (part === '' ? [] : part.split(':').flatMap((g) => {
    if (!g.includes('.')) return [Number.parseInt(g, 16)];
    const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
    return [(a << 8) | b, (c << 8) | d];
  }));
  const gap = v6.indexOf('::');
  if (gap === -1) return half(v6);
  const head = half(v6.slice(0, gap));
  const tail = half(v6.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/**
 * What address-keyed rules count and block: an IPv4 address itself; for IPv6 its /64
 * (`2001:db8:1:2::/64`). A link-local address with a zone and a NAT64 address stay as they are.
 */
export function clientNetwork(address: string): string {
  if (!address.includes(':') || address.includes('%')) return address;
  // Per request on the rate limiters' path: an IPv6 client's network is worked out once
  // (the URL serializer and the group split cost microseconds), then looked up.
  let network = networks.get(address);
  if (network === undefined) {
    if (networks.size >= NETWORK_CACHE_SIZE) networks.clear();
    network = ipv6Network(address);
    networks.set(address, network);
  }
  return network;
}

/** Recently seen IPv6 addresses → their network. Cleared when full: bounded, and refilled by what is seen next. */
const networks = new Map<string, string>();
const NETWORK_CACHE_SIZE = 10_000;

function ipv6Network(address: string): string {
  if (isIP(address) !== 6) return address;
  const g = groups(address);
  // IPv4-mapped (`::ffff:a.b.c.d`, what a dual-stack socket reports for an IPv4 peer): the
  // IPv4 client itself. Its /64 would be `::/64`, one bucket for every IPv4 client, so that
  // one of them could block or throttle all (callers without the accept stage's canonical
  // address, such as the identity provider embedded without the gateway, pass this form).
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) return `${g[6]! >> 8}.${g[6]! & 0xff}.${g[7]! >> 8}.${g[7]! & 0xff}`;
  // NAT64 (64:ff9b::/96): each address stands for a different IPv4 client. The same for the
  // local-use prefix 64:ff9b:1::/48 (RFC 8215), whose /96s translators are given: keyed by its
  // /64 every IPv4 client behind such a translator shared one bucket, and one abuser got them
  // all throttled or blocked. Where the IPv4 bits sit depends on the translator's prefix
  // length, so the whole address is the client.
  if (g[0] === 0x64 && g[1] === 0xff9b && ((g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0) || g[2] === 1)) return address;
  return network64(g);
}

function network64(g: readonly number[]): string {
  return `${canonicalIp(`${g.slice(0, 4).map((x) => x.toString(16)).join(':')}::`)}${NETWORK_SUFFIX}`;
}

/**
 * The shortest IPv6 prefix a block may cover: an ISP's whole allocation (/32). Shorter ones
 * (a typo for /64, `::/0`) would block a whole region's clients at once.
 */
export const MIN_BLOCK_PREFIX = 32;
/**
 * The shortest IPv4 prefix a block may cover (/8, 16.7 million addresses). A hosting network
 * an operator blocks is a /12 to a /24; shorter ones (`0.0.0.0/0`, a typo for /24) would block
 * a sixteenth of the IPv4 internet or more.
 */
export const MIN_BLOCK_PREFIX_V4 = 8;

/** `/48` of `2001:db8:1::/48`, 24 of `192.0.2.0/24`: the prefix length of a canonical block value, undefined for an address. */
export function blockPrefixLength(value: string): number | undefined {
  const slash = value.lastIndexOf('/');
  return slash === -1 ? undefined : Number(value.slice(slash + 1));
}

/**
 * The canonical spelling of a block target: an IP address (see {@link canonicalIp}), an IPv6
 * prefix from /32 to /64 written as `<address>/<length>` with the host bits dropped
 * (`2001:db8:1:2::/64`; `2001:db8:1::/48`, as detection's prefix rules block a customer that
 * rotates through its /64s), or an IPv4 prefix from /8 to /31 written the same way
 * (`192.0.2.0/24`; `192.0.2.77/24` is that too, and a /32 is the address itself); undefined for
 * anything else (an IPv6 /65 or longer, /31 or shorter, an IPv4 /7 or shorter, a zone).
 */
export function canonicalBlockAddress(value: string): string | undefined {
  const slash = value.lastIndexOf('/');
  if (slash === -1) return canonicalIp(value);
  const bits = value.slice(slash + 1);
  const length = /^(?:[1-9]|[1-9][0-9])$/.test(bits) ? Number(bits) : 0;
  const address = canonicalIp(value.slice(0, slash));
  if (address === undefined || address.includes('%')) return undefined;
  if (!address.includes(':')) {
    // An IPv4-mapped prefix (`::ffff:192.0.2.0/120`) is not accepted: canonicalIp turned it into IPv4, its length is the IPv6 one.
    if (value.slice(0, slash).includes(':') || length < MIN_BLOCK_PREFIX_V4 || length > 32) return undefined;
    return length === 32 ? address : ipv4Prefix(ipv4Number(address), length);
  }
  if (length < MIN_BLOCK_PREFIX || length > 64) return undefined;
  const network = network64(groups(address));
  return length === 64 ? network : ipv6Prefix(network, length);
}

/** A canonical IPv4 address as a 32-bit unsigned number. */
export function ipv4Number(address: string): number {
  let n = 0;
  let octet = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c === 46) { n = n * 256 + octet; octet = 0; } else octet = octet * 10 + (c - 48);
  }
  return n * 256 + octet;
}

/** The /`length` prefix holding an IPv4 address (its number), as block values spell it: `192.0.2.0/24`. */
export function ipv4Prefix(address: number, length: number): string {
  const network = length === 0 ? 0 : (address & (0xffffffff << (32 - length))) >>> 0;
  return `${network >>> 24}.${(network >>> 16) & 0xff}.${(network >>> 8) & 0xff}.${network & 0xff}/${length}`;
}

/**
 * Whether the block value `outer` covers the block value `inner` (both canonical, as
 * {@link canonicalBlockAddress} writes them): the same value, or a prefix holding the other — an
 * address whose requests the prefix's block refuses, or a prefix at least as long inside it.
 * Exactly what the block check matches: NAT64 addresses and zoned addresses are held by no
 * prefix (`clientNetwork` leaves them whole), so they cover and are covered by themselves only.
 *
 * @example
 *   blockCovers('2001:db8:1::/48', '2001:db8:1:2::/64'); // true
 *   blockCovers('2001:db8:1::/48', '2001:db8:1:7::9');   // true
 *   blockCovers('2001:db8:1:2::/64', '2001:db8:1::/48'); // false
 *   blockCovers('192.0.2.0/24', '192.0.2.128/25');        // true
 */
export function blockCovers(outer: string, inner: string): boolean {
  if (outer === inner) return true;
  const outerLength = blockPrefixLength(outer);
  if (outerLength === undefined) return false;
  const innerLength = blockPrefixLength(inner);
  if (innerLength !== undefined && innerLength < outerLength) return false;
  const innerAddress = innerLength === undefined ? inner : inner.slice(0, inner.lastIndexOf('/'));
  const innerV4 = !innerAddress.includes(':');
  if (!outer.includes(':')) return innerV4 && ipv4Prefix(ipv4Number(innerAddress), outerLength) === outer;
  if (innerV4) return false;
  // A prefix's host bits are zero, so its first /64 is its address with /64.
  const network = innerLength === undefined ? clientNetwork(inner) : `${innerAddress}${NETWORK_SUFFIX}`;
  if (!network.endsWith(NETWORK_SUFFIX)) return false;
  return (outerLength === 64 ? network : ipv6Prefix(network, outerLength)) === outer;
}
