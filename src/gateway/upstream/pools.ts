/**
 * Keep-alive connection pools, one per upstream — or one per upstream and connect timeout,
 * when routes to it set different `timeouts.connectMs` (undici's connect timeout belongs to
 * the pool's connector, not to a request). This folder is the only place that opens upstream
 * connections. On a config reload, a pool whose upstream settings did not change keeps
 * serving each connect timeout its routes still use, whatever the order of the routes or
 * the other timeouts added or dropped (no reconnect storm); pools no longer used are closed
 * gracefully, which lets their in-flight requests finish.
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

/** One undici pool and the function that stops its reaction to trust changes. */
export interface PoolEntry {
  readonly pool: Pool;
  readonly detach: () => void;
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
  /** The same pools with their detach functions, by connect timeout (what a reload reuses or closes). */
  readonly entries: ReadonlyMap<number, PoolEntry>;
  /** The upstream's settings: a pool is reused only by an upstream with the same ones. */
  readonly key: string;
}

export type UpstreamPools = ReadonlyMap<string, UpstreamPool>;

/** Connect timeout of a pool no route names (an upstream without routes; `timeouts.connectMs`'s default). */
export const DEFAULT_CONNECT_MS = 5_000;

function settingsKey(config: UpstreamConfig): string {
  return JSON.stringify(config);
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
      // No session cache (undici keeps 100 by default): Node skips checkServerIdentity on a
      // resumed session and OpenSSL does not verify its certificate again, so a resumed
      // connection would reach an upstream whose certificate has expired since, unjudged.
      cached = { material, trust, connect: buildConnector({ secureContext, rejectUnauthorized: true, checkServerIdentity, timeout: connectMs, maxCachedSessions: 0 } as buildConnector.BuildOptions) };
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

function createEntry(config: UpstreamConfig, workload: WorkloadTls | undefined, connectMs: number): PoolEntry {
  const url = new URL(config.url);
  const mtls = config.tls ? mtlsConnector(config, workload!, connectMs) : undefined;
  const pool = new Pool(url.origin, {
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
  });
  return { pool, detach: mtls ? workload!.onTrustChange(mtls.recheck) : () => {} };
}

/**
 * The pools of one upstream: `reusable` (the previous generation's, when the upstream's
 * settings are unchanged) gives the ones whose connect timeout is still used.
 */
function createPool(name: string, config: UpstreamConfig, workload: WorkloadTls | undefined, connectTimeouts: readonly number[], reusable?: ReadonlyMap<number, PoolEntry>): UpstreamPool {
  const url = new URL(config.url);
  if (config.tls && !workload) throw new Error(`upstream ${name} asks for mutual TLS but the certificate authority is not running`);
  const basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const timeouts = connectTimeouts.length > 0 ? connectTimeouts : [DEFAULT_CONNECT_MS];
  const entries = new Map<number, PoolEntry>();
  for (const connectMs of timeouts) entries.set(connectMs, reusable?.get(connectMs) ?? createEntry(config, workload, connectMs));
  const byConnectMs = new Map([...entries].map(([ms, e]) => [ms, e.pool]));
  return { name, config, origin: url.origin, basePath, pool: byConnectMs.get(timeouts[0]!)!, byConnectMs, entries, key: settingsKey(config) };
}

function sameEntries(a: ReadonlyMap<number, PoolEntry>, b: ReadonlyMap<number, PoolEntry>): boolean {
  return a.size === b.size && [...a].every(([ms, e]) => b.get(ms) === e);
}

/**
 * Builds the pools for a new configuration, reusing unchanged ones from `previous`.
 * `connectTimeouts` (from {@link connectTimeoutsOf}) gives each upstream's routes' connect
 * timeouts; an upstream missing from it gets one pool with {@link DEFAULT_CONNECT_MS}.
 * Returns the new map and the pools to close once the old generation has drained.
 */
export function buildPools(upstreams: Readonly<Record<string, UpstreamConfig>>, previous?: UpstreamPools, workload?: WorkloadTls, connectTimeouts?: ReadonlyMap<string, readonly number[]>): { pools: UpstreamPools; retired: PoolEntry[] } {
  const pools = new Map<string, UpstreamPool>();
  for (const [name, config] of Object.entries(upstreams)) {
    const old = previous?.get(name);
    const reusable = old && old.key === settingsKey(config) ? old.entries : undefined;
    const built = createPool(name, config, workload, connectTimeouts?.get(name) ?? [], reusable);
    // Same pools, same default: keep the old object, so an unchanged upstream is the same value in both generations.
    pools.set(name, old && reusable && built.pool === old.pool && sameEntries(built.entries, old.entries) ? old : built);
  }
  const kept = new Set([...pools.values()].flatMap((p) => [...p.entries.values()]));
  const retired = previous ? [...previous.values()].flatMap((p) => [...p.entries.values()]).filter((e) => !kept.has(e)) : [];
  return { pools, retired };
}

/** Closes pools gracefully (their in-flight requests finish) and stops their trust-change reactions. */
export async function closeEntries(entries: Iterable<PoolEntry>): Promise<void> {
  await Promise.allSettled([...entries].map((e) => { e.detach(); return e.pool.close(); }));
}

/**
 * Destroys pools at shutdown, once every client connection is closed: nothing can use them any
 * more. Closing them gracefully instead waited for whatever they still had under way, such as a
 * connection attempt an answered request left behind (a silent upstream, a route whose
 * connectMs is long): the gateway's stop hung for up to that connect timeout after the drain.
 */
export async function destroyPools(pools: Iterable<UpstreamPool>): Promise<void> {
  const entries = [...pools].flatMap((p) => [...p.entries.values()]);
  await Promise.allSettled(entries.map((e) => { e.detach(); return e.pool.destroy(); }));
}
