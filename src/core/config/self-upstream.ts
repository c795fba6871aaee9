/**
 * An upstream must not be one of Gatehouse's own listeners. Pointed at the ops listener, a
 * public route would expose /metrics, /readyz and the ops actions to anyone the route lets
 * in — and to the ops listener the request comes from loopback, the one peer it trusts for
 * actions. Pointed at the public or redirect listener, every request would come back to
 * Gatehouse and be forwarded again until connections run out.
 *
 * Compared by address as written (no DNS at validation): the listener's own host, any
 * loopback address or `localhost` when the listener is on loopback or on every address,
 * and this machine's interface addresses when it is on every address. A listener on
 * port 0 (chosen by the system) cannot be told apart and is skipped.
 */
import { networkInterfaces } from 'node:os';
import { isLoopbackAddress } from '../loopback.ts';
import type { Config } from './schema.ts';
import type { ConfigProblem } from './load.ts';

const WILDCARD = new Set(['0.0.0.0', '::', '[::]', '']);

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || isLoopbackAddress(host);
}

function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address.toLowerCase());
  return out;
}

export function selfUpstreamProblems(config: Config): ConfigProblem[] {
  const l = config.listeners;
  const listeners: { name: string; host: string; port: number; why: string }[] = [
    { name: 'ops', host: l.ops.host, port: l.ops.port, why: 'its endpoints and actions would be reachable through a public route' },
    { name: 'public HTTPS', host: l.https.host, port: l.https.port, why: 'every request would be forwarded back to Gatehouse in a loop' },
    ...(l.http.enabled ? [{ name: 'HTTP redirect', host: l.http.host, port: l.http.port, why: 'every request would be forwarded back to Gatehouse' }] : []),
  ].filter((x) => x.port !== 0);
  if (listeners.length === 0) return [];
  let local: Set<string> | undefined;
  const problems: ConfigProblem[] = [];
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    let url: URL;
    try { url = new URL(upstream.url); } catch { continue; }
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    for (const listener of listeners) {
      if (listener.port !== port) continue;
      const bound = listener.host.replace(/^\[|\]$/g, '').toLowerCase();
      const wildcard = WILDCARD.has(bound);
      const same = host === bound
        || (isLoopback(host) && (wildcard || isLoopback(bound)))
        || (wildcard && (local ??= localAddresses()).has(host));
      if (same) {
        problems.push({ path: ['upstreams', name, 'url'], message: `points at Gatehouse's own ${listener.name} listener (${listener.host}:${listener.port}): ${listener.why}` });
        break;
      }
    }
  }
  return problems;
}
