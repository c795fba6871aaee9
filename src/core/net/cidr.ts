/**
 * An IP address or CIDR range as configuration spells it (`10.0.0.0/8`, `fd00::/8`,
 * `192.0.2.7`), checked the same way wherever a config lists ranges (trusted proxies, IP
 * rules), so that one spelling means the same thing everywhere.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** A parsed range, in the form `net.BlockList.addSubnet` takes. */
export interface CidrRange {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/**
 * The range `text` names (a single address is a /32 or /128), or a message saying what is
 * wrong with it. Host bits may be set (`10.1.2.3/8` is `10.0.0.0/8`); a zone (`fe80::1%eth0`)
 * is refused: it names an interface of one host, not a range.
 */
export function parseCidr(text: string): CidrRange | string {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) && !address.includes('%') ? 'ipv6' : undefined;
  if (family === undefined) return `"${text}" is not an IP address or CIDR (e.g. 10.0.0.0/8, fd00::/8)`;
  const max = family === 'ipv4' ? 32 : 128;
  if (slash === -1) return { address, prefix: max, family };
  const bits = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `"${text}" has an invalid prefix length (0–${max})`;
  return { address, prefix: Number(bits), family };
}

/** The 4 or 16 bytes of a valid address (as `parseCidr` accepted it: no zone). */
export function addressBytes(range: CidrRange): number[] {
  if (range.family === 'ipv4') return range.address.split('.').map(Number);
  const half = (part: string): number[] => (part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? g.split('.').map(Number) : [Number.parseInt(g, 16) >> 8, Number.parseInt(g, 16) & 0xff])));
  const gap = range.address.indexOf('::');
  if (gap === -1) return half(range.address);
  const head = half(range.address.slice(0, gap));
  const tail = half(range.address.slice(gap + 2));
  return [...head, ...new Array<number>(16 - head.length - tail.length).fill(0), ...tail];
}

/** The address spelled back from bytes (IPv6 in its RFC 5952 form, through the URL serializer). */
function spell(bytes: readonly number[], family: 'ipv4' | 'ipv6'): string {
  if (family === 'ipv4') return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/**
 * The network of a range whose address has bits set past its prefix (`10.20.1.0/16` is
 * `10.20.0.0/16`), or undefined when it has none. In an allow list such a typo widens the
 * range silently (a /24 meant, a /16 allowed), so IP rules refuse it naming both readings.
 */
export function hostBitsNetwork(range: CidrRange): string | undefined {
  const bytes = addressBytes(range);
  const network = bytes.map((b, i) => {
    const bitsHere = Math.max(0, Math.min(8, range.prefix - i * 8));
    return b & ((0xff << (8 - bitsHere)) & 0xff);
  });
  return network.every((b, i) => b === bytes[i]) ? undefined : `${spell(network, range.family)}/${range.prefix}`;
}

/**
 * The shortest prefix at which `range`'s address is a network (its trailing zero bits kept
 * out): `10.20.1.0` → 24, `2001:db8:1::` → 48. What an operator who wrote `10.20.1.0/16` most
 * likely meant, offered beside the network their text reads as.
 */
export function networkPrefixOf(range: CidrRange): number {
  const bytes = addressBytes(range);
  let zeros = 0;
  for (let i = bytes.length - 1; i >= 0; i--) {
    const b = bytes[i]!;
    if (b === 0) { zeros += 8; continue; }
    zeros += Math.clz32(b & -b) ^ 31; // trailing zeros of the byte
    break;
  }
  return bytes.length * 8 - zeros;
}

/**
 * The problem with a range whose address has bits set past its prefix, naming both readings
 * (`"10.20.1.0/16" has bits set past its /16: write 10.20.0.0/16, or … (10.20.1.0/24?)`), or
 * undefined when it has none. Allow lists and trusted proxies refuse such a range: read as its
 * network it would silently widen what was meant.
 */
export function hostBitsProblem(value: string, range: CidrRange): string | undefined {
  const network = hostBitsNetwork(range);
  return network === undefined ? undefined : `"${value}" has bits set past its /${range.prefix}: write ${network}, or the longer prefix meant (${range.address}/${networkPrefixOf(range)}?)`;
}
