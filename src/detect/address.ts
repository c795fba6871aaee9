/**
 * The one spelling of an IP address that blocks are stored and looked up under: the form
 * the gateway's accept stage gives `ctx.clientAddress` (IPv4 dotted, IPv4-mapped IPv6 as
 * IPv4, IPv6 lower-case and compressed as RFC 5952 writes it). A block is a map lookup by
 * string, so `2001:DB8::1`, `2001:db8:0:0:0:0:0:1` or `::ffff:192.0.2.1` typed by an
 * operator must become the string the client's requests carry, or the block never matches.
 */
import { isIP } from 'node:net';
import { canonicalAddress } from '../gateway/http/client-address.ts';

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
