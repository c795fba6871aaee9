/**
 * Keep-alive connection pools, one per upstream — or one per upstream and connect timeout,
 * when routes to it set different `timeouts.connectMs` (undici's connect timeout belongs to
 * the pool's connector, not to a request). This folder is the only place that opens upstream
 * connections. On a config reload, an upstream whose settings and connect timeouts did not
 * change keeps its pools (no reconnect storm); pools no longer used are closed gracefully,
 * which lets their in-flight requests finish.
 */
import { createSecureContext, type TLSSocket } from 'node:tls';
import { Pool, buildConnector } from 'undici';
import type { UpstreamConfig } from '../../core/config/gateway-schema.ts';
import type { TlsMaterial } from '../../pki/mtls/tls-material.ts';
import type { TrustStore } from '../../pki/trust-store.ts';
import { mtlsClientOptions } from '../../pki/mtls/tls-options.ts';
import { spiffeServerIdentityCheck } from '../../pki/mtls/check-server-identity.ts';

/** The gateway's own workload certificate and the current trust (bundle + CRL), read per connection. */
export interface WorkloadTls {
  material(): TlsMaterial;
  trust(): TrustStore;
  /** Calls `listener` after the trust changed (a new CRL); returns the function that stops it. */
  onTrustChange(listener: () => void): () => void;
}

export interface UpstreamPool {
  readonly name: string;
  readonly config: UpstreamConfig;
  readonly origin: string;
  /** Path prefix of the upstream URL ('' when none), prepended to forwarded paths. */
  readonly basePath: string;
  /** The pool for the first connect timeout its routes use (the only one, in the common case). */
  readonly pool: Pool;
  /** A pool per connect timeout of the routes to this upstream (`routes[].timeouts.connectMs`). */
  readonly byConnectMs: ReadonlyMap<number, Pool>;
  readonly key: string;
  /** Stops the pool's reaction to trust changes (called when the pool is closed). */
  readonly detach: () => void;
}

export type UpstreamPools = ReadonlyMap<string, UpstreamPool>;

/** Connect timeout of a pool no route names (an upstream without routes; `timeouts.connectMs`'s default). */
export const DEFAULT_CONNECT_MS = 5_000;

function poolKey(config: UpstreamConfig, connectTimeouts: readonly number[]): string {
  return JSON.stringify([config, connectTimeouts]);
}

/** The connect timeouts the routes to each upstream use, in route order, without repeats. */
export function connectTimeoutsOf(routes: readonly { upstream: string; timeouts: { connectMs: number } }[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const r of routes) {
    const list = out.get(r.upstream) ?? out.set(r.upstream, []).get(r.upstream)!;
    if (!list.includes(r.timeouts.connectMs)) list.push(r.timeouts.connectMs);
  }
  return out;
}

/**
 * A connector for mutual TLS that takes the certificate and trust as they are when each
 * connection opens, so rotations and CRL updates apply to new connections at once. The
 * TLS context (parsed key, chain, roots and CRLs) is built once per certificate and trust
 * pair, not per connection: a pool reopening a hundred connections must not parse the
 * same PEMs a hundred times.
 *
 * Open connections were verified under the trust of their handshake; `recheck` verifies
 * their upstream's certificate again under the current trust and destroys those it now
 * refuses, so a certificate revoked while a keep-alive connection is pooled stops being
 * used. It runs on a trust change, never per request.
 */
function mtlsConnector(config: UpstreamConfig, workload: WorkloadTls, connectMs: number): { connect: buildConnector.connector; recheck: () => void } {
  const policy = { expectedSpiffeId: config.tls!.spiffeId };
  const open = new Set<TLSSocket>();
  let cached: { material: TlsMaterial; trust: TrustStore; connect: buildConnector.connector } | undefined;
  const connect: buildConnector.connector = (options, callback) => {
    const material = workload.material();
    const trust = workload.trust();
    if (!cached || cached.material !== material || cached.trust !== trust) {
      const { checkServerIdentity, ...contextOptions } = mtlsClientOptions(material, () => workload.trust(), policy, { checkHostname: config.tls!.checkHostname });
      const secureContext = createSecureContext(contextOptions);
      cached = { material, trust, connect: buildConnector({ secureContext, rejectUnauthorized: true, checkServerIdentity, timeout: connectMs } as buildConnector.BuildOptions) };
    }
    cached.connect(options, (...args: Parameters<buildConnector.Callback>) => {
      const socket = args[1] as TLSSocket | null;
      if (socket) {
        open.add(socket);
        socket.once('close', () => open.delete(socket));
      }
      callback(...args);
    });
  };
  // The host name was checked at the handshake and cannot have changed; the trust has.
  const check = spiffeServerIdentityCheck(() => workload.trust(), policy, { checkHostname: false });
  const recheck = () => {
    for (const socket of open) {
      const refused = check('', socket.getPeerCertificate());
      if (refused) socket.destroy(refused);
    }
  };
  return { connect, recheck };
}

function createPool(name: string, config: UpstreamConfig, workload: WorkloadTls | undefined, connectTimeouts: readonly number[]): UpstreamPool {
  const url = new URL(config.url);
  if (config.tls && !workload) throw new Error(`upstream ${name} asks for mutual TLS but the certificate authority is not running`);
  const basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const timeouts = connectTimeouts.length > 0 ? connectTimeouts : [DEFAULT_CONNECT_MS];
  const byConnectMs = new Map<number, Pool>();
  const detachers: (() => void)[] = [];
  for (const connectMs of timeouts) {
    const mtls = config.tls ? mtlsConnector(config, workload!, connectMs) : undefined;
    byConnectMs.set(connectMs, new Pool(url.origin, {
      connections: config.connections,
      pipelining: config.pipelining,
      keepAliveTimeout: config.keepAliveTimeoutMs,
      // Per-request timeouts are set on each dispatch from the route; these are the ceilings.
      headersTimeout: 0,
      bodyTimeout: 0,
      // TCP connect and, for mutual TLS, the handshake: the route's connectMs (this pool's).
      connect: mtls ? mtls.connect : { timeout: connectMs },
      // A proxy must pass large upstream headers through as long as clients can take them.
      maxHeaderSize: 64 * 1024,
    }));
    if (mtls) detachers.push(workload!.onTrustChange(mtls.recheck));
  }
  const detach = () => { for (const d of detachers) d(); };
  return { name, config, origin: url.origin, basePath, pool: byConnectMs.get(timeouts[0]!)!, byConnectMs, key: poolKey(config, timeouts), detach };
}

/**
 * Builds the pools for a new configuration, reusing unchanged ones from `previous`.
 * `connectTimeouts` (from {@link connectTimeoutsOf}) gives each upstream's routes' connect
 * timeouts; an upstream missing from it gets one pool with {@link DEFAULT_CONNECT_MS}.
 * Returns the new map and the pools to close once the old generation has drained.
 */
export function buildPools(upstreams: Readonly<Record<string, UpstreamConfig>>, previous?: UpstreamPools, workload?: WorkloadTls, connectTimeouts?: ReadonlyMap<string, readonly number[]>): { pools: UpstreamPools; retired: UpstreamPool[] } {
  const pools = new Map<string, UpstreamPool>();
  for (const [name, config] of Object.entries(upstreams)) {
    const old = previous?.get(name);
    const timeouts = connectTimeouts?.get(name) ?? [];
    const key = poolKey(config, timeouts.length > 0 ? timeouts : [DEFAULT_CONNECT_MS]);
    pools.set(name, old && old.key === key ? old : createPool(name, config, workload, timeouts));
  }
  const retired = previous ? [...previous.values()].filter((p) => pools.get(p.name) !== p) : [];
  return { pools, retired };
}

export async function closePools(pools: Iterable<UpstreamPool>): Promise<void> {
  await Promise.allSettled([...pools].flatMap((p) => { p.detach(); return [...p.byConnectMs.values()].map((pool) => pool.close()); }));
}
