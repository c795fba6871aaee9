/**
 * IP rules (`ipRules`, top level and per route) compiled into one check per client address,
 * backed by `net.BlockList`: a client in a `deny` range is refused, and so is one outside
 * every `allow` range when there are any. IPv4-mapped IPv6 addresses (what a dual-stack
 * listener reports for IPv4 peers) match IPv4 ranges and the reverse, as for trusted proxies.
 */
import { BlockList, isIP } from 'node:net';
import type { IpRulesConfig } from '../../core/config/ip-rules-schema.ts';
import { parseCidr, type CidrRange } from '../../core/net/cidr.ts';

export interface IpRules {
  /**
   * Why the client at `address` is refused — `deny 203.0.113.0/24` (the range that holds it),
   * `allow` (in none of the allowed ranges) — or undefined when it may pass. An address that is
   * not one (none was resolved) is refused: the rules cannot be checked, so they fail closed.
   */
  refusal(address: string | undefined): string | undefined;
}

/** Cache bound: results are remembered per address (clients repeat); emptied when full. */
const CACHE_LIMIT = 4096;
/** Up to this many deny entries, a refusal names the one that holds the client (a linear scan, on refusals only). */
const NAMED_DENY_LIMIT = 64;

/**
 * The compiled rules, or undefined when there are none (the shield stage then does nothing).
 * Entries are valid: the config schema checked each with the same parser.
 *
 * @example
 *   const rules = compileIpRules({ allow: ['10.0.0.0/8'], deny: ['10.9.0.0/16'] });
 *   rules?.refusal('10.1.2.3'); // undefined
 *   rules?.refusal('10.9.0.1'); // 'deny 10.9.0.0/16'
 *   rules?.refusal('192.0.2.1'); // 'allow'
 */
export function compileIpRules(config: IpRulesConfig | undefined): IpRules | undefined {
  if (config === undefined || (config.allow.length === 0 && config.deny.length === 0)) return undefined;
  const ranges = (list: readonly string[]): CidrRange[] => list.map((text) => {
    const range = parseCidr(text);
    if (typeof range === 'string') throw new Error(`ipRules: ${range}`); // unreachable after schema validation
    return range;
  });
  const blockList = (list: readonly CidrRange[]): BlockList => {
    const b = new BlockList();
    for (const r of list) b.addSubnet(r.address, r.prefix, r.family);
    return b;
  };
  const denyRanges = ranges(config.deny);
  const deny = denyRanges.length > 0 ? blockList(denyRanges) : undefined;
  const allow = config.allow.length > 0 ? blockList(ranges(config.allow)) : undefined;
  // Built on the first refusal by a deny range, to say which one.
  let denyEntries: { text: string; list: BlockList }[] | undefined;
  const deniedBy = (bare: string, family: 'ipv4' | 'ipv6'): string => {
    if (denyRanges.length > NAMED_DENY_LIMIT) return `deny (one of ${denyRanges.length} ranges)`;
    denyEntries ??= config.deny.map((text, i) => ({ text, list: blockList([denyRanges[i]!]) }));
    const entry = denyEntries.find((e) => e.list.check(bare, family));
    return entry === undefined ? 'deny' : `deny ${entry.text}`;
  };

  const cache = new Map<string, string | null>();
  return {
    refusal(address) {
      if (!address) return 'no client address';
      const known = cache.get(address);
      if (known !== undefined) return known ?? undefined;
      let result: string | null = null;
      const zone = address.indexOf('%'); // a link-local zone (fe80::1%eth0) is not part of the address
      const bare = zone === -1 ? address : address.slice(0, zone);
      const kind = address.length > 64 ? 0 : isIP(bare);
      if (kind === 0) result = 'unreadable client address';
      else {
        const family = kind === 6 ? 'ipv6' : 'ipv4';
        if (deny !== undefined && deny.check(bare, family)) result = deniedBy(bare, family);
        else if (allow !== undefined && !allow.check(bare, family)) result = 'allow';
      }
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(address, result);
      return result ?? undefined;
    },
  };
}
