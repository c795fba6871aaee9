/**
 * Keep-alive connection pools, one per upstream. This folder is the only place that opens
 * upstream connections. On a config reload, a pool whose upstream settings did not change
 * is carried over (no reconnect storm); pools no longer used are closed gracefully, which
 * lets their in-flight requests finish.
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
  readonly pool: Pool;
  readonly key: string;
  /** Stops the pool's reaction to trust changes (called when the pool is closed). */
  readonly detach: () => void;
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
 *
 * Open connections were verified under the trust of their handshake; `recheck` verifies
 * their upstream's certificate again under the current trust and destroys those it now
 * refuses, so a certificate revoked while a keep-alive connection is pooled stops being
 * used. It runs on a trust change, never per request.
 */
function mtlsConnector(config: UpstreamConfig, workload: WorkloadTls): { connect: buildConnector.connector; recheck: () => void } {
  const policy = { expectedSpiffeId: config.tls!.spiffeId };
  const open = new Set<TLSSocket>();
  let cached: { material: TlsMaterial; trust: TrustStore; connect: buildConnector.connector } | undefined;
  const connect: buildConnector.connector = (options, callback) => {
    const material = workload.material();
    const trust = workload.trust();
    if (!cached || cached.material !== material || cached.trust !== trust) {
      const { checkServerIdentity, ...contextOptions } = mtlsClientOptions(material, () => workload.trust(), policy, { checkHostname: config.tls!.checkHostname });
      const secureContext = createSecureContext(contextOptions);
      cached = { material, trust, connect: buildConnector({ secureContext, rejectUnauthorized: true, checkServerIdentity, timeout: 5_000 } as buildConnector.BuildOptions) };
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

function createPool(name: string, config: UpstreamConfig, workload: WorkloadTls | undefined): UpstreamPool {
  const url = new URL(config.url);
  if (config.tls && !workload) throw new Error(`upstream ${name} asks for mutual TLS but the certificate authority is not running`);
  const basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const mtls = config.tls ? mtlsConnector(config, workload!) : undefined;
  const pool = new Pool(url.origin, {
    connections: config.connections,
    pipelining: config.pipelining,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Per-request timeouts are set on each dispatch from the route; these are the ceilings.
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: mtls ? mtls.connect : { timeout: 5_000 },
    // A proxy must pass large upstream headers through as long as clients can take them.
    maxHeaderSize: 64 * 1024,
  });
  const detach = mtls ? workload!.onTrustChange(mtls.recheck) : () => undefined;
  return { name, config, origin: url.origin, basePath, pool, key: poolKey(config), detach };
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
  await Promise.allSettled([...pools].map((p) => { p.detach(); return p.pool.close(); }));
}
