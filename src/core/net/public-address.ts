/**
 * Whether an IP address is on the public internet: not loopback, private, link-local (where
 * cloud metadata services answer, 169.254.169.254, fd00:ec2::254), shared (CGNAT), multicast,
 * documentation, benchmarking or otherwise reserved — the IANA special-purpose address
 * registries' non-global blocks, for IPv4 and IPv6.
 *
 * Used where Gatehouse connects to an address that someone outside it chose (an external OpenID
 * provider's discovery document names its token, key and userinfo endpoints): such an address
 * must not reach into the network Gatehouse sits in unless the operator said so.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { addressBytes } from './cidr.ts';

const NOT_PUBLIC_V4: readonly [string, number][] = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // shared address space (carrier-grade NAT)
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast address
];

const NOT_PUBLIC_V6: readonly [string, number][] = [
  ['::', 8], // unspecified, loopback, IPv4-compatible and other reserved (IPv4-mapped is judged by its IPv4 address)
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['100:0:0:1::', 64], // dummy prefix (RFC 9780), for configurations that need one; not routed
  ['2001::', 23], // IETF protocol assignments (Teredo, ORCHID …)
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: reaches an IPv4 address through a relay
  ['3fff::', 20], // documentation
  ['5f00::', 16], // segment routing
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

// Two lists: a BlockList also matches IPv4 addresses against IPv6 rules (as IPv4-mapped), so one
// list holding ::/8 would call every IPv4 address not public.
const notPublicV4 = new BlockList();
for (const [address, prefix] of NOT_PUBLIC_V4) notPublicV4.addSubnet(address, prefix, 'ipv4');
const notPublicV6 = new BlockList();
for (const [address, prefix] of NOT_PUBLIC_V6) notPublicV6.addSubnet(address, prefix, 'ipv6');

/**
 * The IPv4 address an IPv6 address stands for, when it is one that carries it: IPv4-mapped
 * (`::ffff:a.b.c.d`) or the well-known NAT64 prefix (`64:ff9b::a.b.c.d`, RFC 6052), whose
 * translator connects to that IPv4 address.
 */
export function embeddedIpv4(address: string): string | undefined {
  if (!isIPv6(address) || address.includes('%')) return undefined;
  const b = addressBytes({ address, prefix: 128, family: 'ipv6' });
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const mapped = zeros(0, 10) && b[10] === 0xff && b[11] === 0xff;
  const nat64 = b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12);
  return mapped || nat64 ? b.slice(12).join('.') : undefined;
}

/** True when `address` (an IP address, no zone) is globally reachable; false for anything else, including what is not an address. */
export function isPublicAddress(address: string): boolean {
  const v4 = isIPv4(address) ? address : embeddedIpv4(address);
  if (v4 !== undefined) return !notPublicV4.check(v4, 'ipv4');
  if (!isIPv6(address) || address.includes('%')) return false;
  return !notPublicV6.check(address, 'ipv6');
}
