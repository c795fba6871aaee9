/**
 * Where a service's certificate and trust come from, behind one small interface:
 *
 * - `workload`: the real way. The service holds a WorkloadIdentity (Gatehouse's SDK): its
 *   key is generated in the process, the first certificate is obtained from Gatehouse's CA
 *   with a one-use bootstrap token written by the supervisor, renewed at 2/3 of its life
 *   over mutual TLS, and the trust bundle and CRLs are refreshed every `trustRefreshMs` —
 *   so a revocation reaches the service, and the CRLs it checks never go stale.
 * - `files`: key, chain and trust read once from files (tests that run their own CA).
 */
import { readFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import type { Logger } from 'pino';
import { WorkloadIdentity, type IdentityChange } from '../../../src/pki/client/workload-identity.ts';
import type { TlsMaterial } from '../../../src/pki/mtls/tls-material.ts';
import type { TrustStore } from '../../../src/pki/trust-store.ts';

export interface ServiceTls {
  material(): TlsMaterial;
  trust(): TrustStore;
  /** Called on rotation and trust refresh; returns the unsubscribe function. */
  onChange(listener: (change: IdentityChange) => void): () => void;
  close(): Promise<void>;
}

/** Fixed material: never changes. */
export function staticServiceTls(material: TlsMaterial, trust: TrustStore): ServiceTls {
  return { material: () => material, trust: () => trust, onChange: () => () => undefined, close: async () => undefined };
}

export interface WorkloadTlsOptions {
  gatehouseUrl: string;
  /** PEM trusted for Gatehouse's public listener (its development certificate). */
  gatehouseCa: string | undefined;
  spiffeId: string;
  /** Directory where the key (0600), certificate and trust are kept across restarts. */
  dataDir: string;
  /** File holding a one-use bootstrap token; deleted once used (it is worthless afterwards). */
  bootstrapTokenFile: string | undefined;
  trustRefreshMs: number;
  logger: Logger;
}

export async function workloadServiceTls(options: WorkloadTlsOptions): Promise<ServiceTls> {
  let token: string | undefined;
  if (options.bootstrapTokenFile) {
    try { token = readFileSync(options.bootstrapTokenFile, 'utf8').trim() || undefined; } catch { token = undefined; }
  }
  const identity = await WorkloadIdentity.start({
    gatehouseUrl: options.gatehouseUrl,
    spiffeId: options.spiffeId,
    dataDir: options.dataDir,
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    trustRefreshMs: options.trustRefreshMs,
    logger: options.logger,
    ...(options.gatehouseCa ? { gatehouseCa: options.gatehouseCa } : {}),
    ...(token ? { bootstrapToken: token } : {}),
  });
  if (options.bootstrapTokenFile) await unlink(options.bootstrapTokenFile).catch(() => undefined);
  return {
    material: () => identity.material,
    trust: () => identity.trust,
    onChange: (listener) => identity.onChange(listener),
    close: () => identity.stop(),
  };
}
