/**
 * Keep-alive connection pools, one per upstream. This folder is the only place that opens
 * upstream connections. On a config reload, a pool whose upstream settings did not change
 * is carried over (no reconnect storm); pools no longer used are closed gracefully, which
 * lets their in-flight requests finish.
 */
import { createSecureContext } from 'node:tls';
import { Pool, buildConnector } from 'undici';
import type { UpstreamConfig } from '../../core/config/gateway-schema.ts';
import type { TlsMaterial } from '../../pki/mtls/tls-material.ts';
import type { TrustStore } from '../../pki/trust-store.ts';
import { mtlsClientOptions } from '../../pki/mtls/tls-options.ts';

/** The gateway's own workload certificate and the current trust (bundle + CRL), read per connection. */
export interface WorkloadTls {
  material(): TlsMaterial;
  trust(): TrustStore;
}

export interface UpstreamPool {
  readonly name: string;
  readonly config: UpstreamConfig;
  readonly origin: string;
  /** Path prefix of the upstream URL ('' when none), prepended to forwarded paths. */
  readonly basePath: string;
  readonly pool: Pool;
  readonly key: string;
}

export type UpstreamPools = ReadonlyMap<string, UpstreamPool>;

function poolKey(config: UpstreamConfig): string {
  return JSON.stringify(config);
}

/**
 * A connector for mutual TLS that takes the certificate and trust as they are when each
 * connection opens, so rotations and CRL updates apply to new connections at once. The
 * TLS context (parsed key, chain, roots and CRLs) is built once per certificate and trust
 * pair, not per connection: a pool reopening a hundred connections must not parse the
 * same PEMs a hundred times.
 */
function mtlsConnector(config: UpstreamConfig, workload: WorkloadTls): buildConnector.connector {
  const policy = { expectedSpiffeId: config.tls!.spiffeId };
  let cached: { material: TlsMaterial; trust: TrustStore; connect: buildConnector.connector } | undefined;
  return (options, callback) => {
    const material = workload.material();
    const trust = workload.trust();
    if (!cached || cached.material !== material || cached.trust !== trust) {
      const { checkServerIdentity, ...contextOptions } = mtlsClientOptions(material, () => workload.trust(), policy, { checkHostname: config.tls!.checkHostname });
      const secureContext = createSecureContext(contextOptions);
      cached = { material, trust, connect: buildConnector({ secureContext, rejectUnauthorized: true, checkServerIdentity, timeout: 5_000 } as buildConnector.BuildOptions) };
    }
    return cached.connect(options, callback);
  };
}

function createPool(name: string, config: UpstreamConfig, workload: WorkloadTls | undefined): UpstreamPool {
  const url = new URL(config.url);
  if (config.tls && !workload) throw new Error(`upstream ${name} asks for mutual TLS but the certificate authority is not running`);
  const basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const pool = new Pool(url.origin, {
    connections: config.connections,
    pipelining: config.pipelining,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Per-request timeouts are set on each dispatch from the route; these are the ceilings.
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: config.tls ? mtlsConnector(config, workload!) : { timeout: 5_000 },
    // A proxy must pass large upstream headers through as long as clients can take them.
    maxHeaderSize: 64 * 1024,
  });
  return { name, config, origin: url.origin, basePath, pool, key: poolKey(config) };
}

/**
 * Builds the pools for a new configuration, reusing unchanged ones from `previous`.
 * Returns the new map and the pools to close once the old generation has drained.
 */
export function buildPools(upstreams: Readonly<Record<string, UpstreamConfig>>, previous?: UpstreamPools, workload?: WorkloadTls): { pools: UpstreamPools; retired: UpstreamPool[] } {
  const pools = new Map<string, UpstreamPool>();
  for (const [name, config] of Object.entries(upstreams)) {
    const old = previous?.get(name);
    pools.set(name, old && old.key === poolKey(config) ? old : createPool(name, config, workload));
  }
  const retired = previous ? [...previous.values()].filter((p) => pools.get(p.name) !== p) : [];
  return { pools, retired };
}

export async function closePools(pools: Iterable<UpstreamPool>): Promise<void> {
  await Promise.allSettled([...pools].map((p) => p.pool.close()));
}
