/**
 * The IPv6 prefix aggregate: a second bucket over all the /64s of a client's enclosing
 * prefix (a /48 by default), `factor` times the per-/64 limit.
 *
 * Why: a client is a /64 (clientNetwork), but one customer commonly holds a /48, that is
 * 65 536 /64s, and with a bucket each it multiplies every per-address limit by 65 536 by
 * picking a new /64 per request. The prefix bucket bounds that at `factor`. It is spent
 * only once the /64's own bucket allowed the request, so a single host flooding from its /64
 * is refused by its own bucket and does not drain its neighbours' shared one. Once it is empty
 * it refuses first, leaving the /64's bucket unstored (decider.ts decideWithAggregate); an ISP's other
 * customers sit in other /48s and are never touched. (Many users behind one IPv4 NAT address
 * already share one per-address bucket; a /48 gets `factor` of them.)
 *
 * NAT64 addresses (each another IPv4 client) and link-local addresses with a zone are not
 * networks (clientNetwork leaves them whole) and get no aggregate.
 */
import { windowOf } from './gcra.ts';
import type { RateLimit } from './types.ts';

export interface Ipv6PrefixConfig {
  enabled: boolean;
  length: number;
  factor: number;
}

const NETWORK_SUFFIX = '/64';

/** /64 network → its prefix; bounded, and refilled by what is seen next when cleared. */
const prefixes = new Map<string, string>();
const PREFIX_CACHE_SIZE = 10_000;

/**
 * The enclosing prefix of a /64 as clientNetwork writes it (`2001:db8:1:2::/64` → with
 * length 48 `2001:db8:1::/48`); undefined for anything that is not a /64 network (IPv4,
 * NAT64, zoned addresses).
 */
export function ipv6Prefix(network: string, length: number): string | undefined {
  if (!network.endsWith(NETWORK_SUFFIX)) return undefined;
  const cacheKey = length === 48 ? network : `${length} ${network}`;
  let prefix = prefixes.get(cacheKey);
  if (prefix === undefined) {
    if (prefixes.size >= PREFIX_CACHE_SIZE) prefixes.clear();
    prefix = prefixOf(network.slice(0, -NETWORK_SUFFIX.length), length);
    prefixes.set(cacheKey, prefix);
  }
  return prefix;
}

/** `address` is the canonical (RFC 5952) spelling of a /64's first address: hex groups and at most one `::`. */
function prefixOf(address: string, length: number): string {
  const gap = address.indexOf('::');
  const head = gap === -1 ? address.split(':') : address.slice(0, gap).split(':').filter((g) => g !== '');
  const groups = head.map((g) => Number.parseInt(g, 16));
  while (groups.length < 8) groups.push(0);
  const out: number[] = [];
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, length - 16 * i));
    out.push(keep === 0 ? 0 : groups[i]! & (0xffff << (16 - keep)) & 0xffff);
  }
  // Written as RFC 5952 would (longest run of zero groups compressed), so one prefix has one key.
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (out[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && out[j] === 0) j++;
    if (j - i > bestLength) { best = i; bestLength = j - i; }
    i = j;
  }
  const hex = out.map((g) => g.toString(16));
  const text = best === -1 ? hex.join(':') : `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLength).join(':')}`;
  return `${text}/${length}`;
}

/** The prefix bucket's limit: `factor` times the rate and the burst of the per-/64 limit (same refill time). */
export function prefixLimit(limit: RateLimit, factor: number): RateLimit {
  const wide = { rate: limit.rate * factor, periodMs: limit.periodMs, burst: limit.burst * factor };
  // rate × factor may round down, putting the window an ulp above the limit's own: past the
  // ten-year maximum for a limit configured at it, where checkLimit would fail every request
  // of every IPv6 client (500). Nudged up until it is not longer (called per stage and route, not per request).
  const window = windowOf(limit);
  while (windowOf(wide) > window) wide.rate += wide.rate * Number.EPSILON;
  return wide;
}
