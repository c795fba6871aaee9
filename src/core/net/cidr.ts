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
