/**
 * `trustedProxies` (CIDRs) compiled into a predicate over addresses, backed by
 * `net.BlockList`. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, what a dual-stack
 * listener reports for IPv4 peers) match IPv4 ranges and the reverse.
 */
import { BlockList } from 'node:net';
import { hostBitsProblem, parseCidr, type CidrRange } from '../../core/net/cidr.ts';
import { GatehouseError } from '../../core/errors.ts';

/** True when the address belongs to a trusted proxy. Never throws; invalid input is untrusted. */
export type TrustPredicate = (address: string) => boolean;

/** A configuration problem with the path of its key, e.g. `['trustedProxies', 2]`. */
export interface TrustedProxyProblem {
  path: (string | number)[];
  message: string;
}

/** Thrown by `compileTrustedProxies`; lists every invalid entry. */
export class TrustedProxiesError extends GatehouseError {
  readonly problems: readonly TrustedProxyProblem[];
  constructor(problems: TrustedProxyProblem[]) {
    super('ERR_CONFIG_INVALID', { detail: problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; '), data: { problems } });
    this.problems = problems;
  }
}

/** Every invalid entry of `trustedProxies`, as config problems. */
export function validateTrustedProxies(cidrs: readonly string[]): TrustedProxyProblem[] {
  const problems: TrustedProxyProblem[] = [];
  cidrs.forEach((cidr, index) => {
    const range = parseCidr(cidr);
    // 10.0.0.5/8 read as 10.0.0.0/8 would let every host of the /8 speak for its clients
    // (X-Forwarded-For: any address, past IP rules, blocks and per-address limits).
    const message = typeof range === 'string' ? range : hostBitsProblem(cidr, range);
    if (message !== undefined) problems.push({ path: ['trustedProxies', index], message });
  });
  return problems;
}

/** Cache bound: proxies are few, clients many; the cache is emptied when full. */
const CACHE_LIMIT = 4096;

/**
 * Compiles trusted-proxy CIDRs (`10.0.0.0/8`, `fd00::/8`, or single addresses).
 *
 * @throws TrustedProxiesError (`ERR_CONFIG_INVALID`) naming the index of every invalid entry.
 * @example
 *   const isTrusted = compileTrustedProxies(config.trustedProxies);
 *   isTrusted('::ffff:10.1.2.3') // true with 10.0.0.0/8
 */
export function compileTrustedProxies(cidrs: readonly string[]): TrustPredicate {
  const problems = validateTrustedProxies(cidrs);
  if (problems.length > 0) throw new TrustedProxiesError(problems);
  if (cidrs.length === 0) return () => false;

  const list = new BlockList();
  for (const cidr of cidrs) {
    const range = parseCidr(cidr) as CidrRange;
    list.addSubnet(range.address, range.prefix, range.family);
  }
  // BlockList.check parses its argument every time (100–400 ns); peers repeat, so remember.
  const cache = new Map<string, boolean>();
  return (address: string): boolean => {
    const known = cache.get(address);
    if (known !== undefined) return known;
    let trusted = false;
    if (typeof address === 'string' && address.length <= 64) {
      const zone = address.indexOf('%'); // link-local zone id (fe80::1%eth0) is not part of the address
      const bare = zone === -1 ? address : address.slice(0, zone);
      trusted = list.check(bare, bare.includes(':') ? 'ipv6' : 'ipv4');
    }
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(address, trusted);
    return trusted;
  };
}
