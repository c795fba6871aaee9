/**
 * Which open WebSocket tunnels a change of configuration or policy ends. A tunnel is
 * authorized once, at its handshake, under the rules of that moment; it then carries bytes
 * for as long as both sides keep it busy. Without this, a reload that made a route private,
 * denied an address range, pointed the route at another upstream or tightened a policy left
 * every tunnel opened before it running under rules that no longer hold. A closed tunnel's
 * client reconnects and is judged by the new rules; a reload that changes none of what
 * decided a tunnel leaves it open.
 */
import type { Config } from '../../core/config/schema.ts';

/**
 * Top-level settings every route's decision reads: who the client is (trusted proxies), whether
 * it may connect at all (IP rules), how it authenticates, step-up and roles (identity), and how
 * policies are resolved (policy: role hierarchy, groups, context headers).
 */
const DECIDING_SETTINGS = ['ipRules', 'trustedProxies', 'authn', 'identity', 'policy'] as const;

const json = (value: unknown) => JSON.stringify(value);

/** What decided a tunnel on `routeId` under `config`: the route and its upstream, as configured. */
function routeFacts(config: Config, routeId: string): string | undefined {
  const route = config.routes.find((r) => r.id === routeId);
  return route === undefined ? undefined : json([route, config.upstreams[route.upstream]]);
}

/**
 * A predicate on route ids: true for the routes whose tunnels `after` ends (the route is gone,
 * or it, its upstream or a deciding top-level setting changed). Route facts are compared once
 * per route, not per tunnel.
 */
export function tunnelsEndedByReload(before: Config, after: Config): (routeId: string) => boolean {
  if (DECIDING_SETTINGS.some((key) => json(before[key]) !== json(after[key]))) return () => true;
  const judged = new Map<string, boolean>();
  return (routeId) => {
    let ended = judged.get(routeId);
    if (ended === undefined) {
      const now = routeFacts(after, routeId);
      ended = now === undefined || now !== routeFacts(before, routeId);
      judged.set(routeId, ended);
    }
    return ended;
  };
}

/** A predicate on route ids: true for the routes `config` has decided by one of the policy sets `changed` (reloaded or removed). */
export function tunnelsEndedByPolicyChange(config: Config, changed: ReadonlySet<string>): (routeId: string) => boolean {
  const decidedBy = new Map(config.routes.map((r) => [r.id, r.access === 'policy' ? r.policy : undefined]));
  return (routeId) => {
    const set = decidedBy.get(routeId);
    return set !== undefined && changed.has(set);
  };
}
