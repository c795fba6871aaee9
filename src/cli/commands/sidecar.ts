/**
 * `gatehouse sidecar`: mTLS in front of and behind a service in any language (docs/sidecar.md).
 *
 *   gatehouse sidecar --gatehouse https://gatehouse.example --spiffe-id spiffe://td/svc/mail \
 *     --bootstrap-token-file /run/secrets/token --data-dir /var/lib/mail-sidecar \
 *     --inbound 8443:8080 --allow-peer spiffe://td/svc/api \
 *     --outbound 9001:store.internal:8443:spiffe://td/svc/store
 */
import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { GatehouseError, isGatehouseError } from '../../core/errors.ts';
import { createLogger } from '../../observability/logger.ts';
import { startSidecar } from '../../sidecar/sidecar.ts';
import { parseInbound, parseOutbound } from '../../sidecar/specs.ts';

interface SidecarCliOptions {
  gatehouse: string;
  gatehouseCa?: string;
  apiPath?: string;
  spiffeId: string;
  bootstrapTokenFile?: string;
  dataDir: string;
  inbound: string[];
  allowPeer: string[];
  outbound: string[];
  http?: boolean;
  alpn: string[];
  dns: string[];
  ip: string[];
  lifetime?: string;
  keyAlgorithm: string;
  renewAt: string;
  trustRefresh: string;
  logLevel: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** The token, or undefined when the file does not exist (a restart with a stored certificate needs none). */
async function readToken(file: string | undefined, warn: (msg: string) => void): Promise<string | undefined> {
  if (!file) return undefined;
  try {
    const mode = (await stat(file)).mode;
    if ((mode & 0o077) !== 0) warn(`bootstrap token file ${file} is readable by group or others`);
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export function registerSidecar(program: Command): void {
  program.command('sidecar')
    .description('terminate and originate mTLS for a local service with certificates from Gatehouse')
    .requiredOption('--gatehouse <url>', 'Gatehouse public URL (https)')
    .option('--gatehouse-ca <file>', 'PEM to trust for Gatehouse\'s HTTPS certificate (default: system roots)')
    .option('--api-path <path>', 'Gatehouse pki.apiPath', '/.well-known/gatehouse/pki')
    .requiredOption('--spiffe-id <id>', 'this workload\'s SPIFFE id')
    .option('--bootstrap-token-file <file>', 'one-time bootstrap token for the first certificate')
    .requiredOption('--data-dir <dir>', 'where key (0600), certificate and trust are kept across restarts')
    .option('--inbound <[host:]listen:local>', 'accept mTLS on listen, forward plain to 127.0.0.1:local (repeatable)', collect, [])
    .option('--allow-peer <spiffe-id>', 'SPIFFE id allowed through inbound listeners (repeatable)', collect, [])
    .option('--outbound <local:host:port:spiffe-id>', 'plain 127.0.0.1:local to mTLS host:port, which must be spiffe-id (repeatable)', collect, [])
    .option('--http', 'inbound as HTTP, adding x-gatehouse-peer with the verified SPIFFE id')
    .option('--alpn <protocol>', 'ALPN protocol to offer outbound and accept inbound in tcp mode, e.g. h2 for gRPC (repeatable; the local service then speaks it in clear, h2c)', collect, [])
    .option('--dns <name>', 'DNS name for the certificate (repeatable; must be allowed by the token)', collect, [])
    .option('--ip <address>', 'IP address for the certificate (repeatable; must be allowed by the token)', collect, [])
    .option('--lifetime <seconds>', 'requested certificate lifetime')
    .option('--key-algorithm <alg>', 'ECDSA-P256 or ECDSA-P384', 'ECDSA-P256')
    .option('--renew-at <fraction>', 'renew after this fraction of the certificate lifetime', '0.6667')
    .option('--trust-refresh <seconds>', 'how often to fetch the trust bundle and CRLs', '30')
    .option('--log-level <level>', 'pino log level', 'info')
    .action(async (o: SidecarCliOptions) => {
      const logger = createLogger({ level: o.logLevel, instanceId: `sidecar-${process.pid}` });
      try {
        const bootstrapToken = await readToken(o.bootstrapTokenFile, (msg) => logger.warn(msg));
        const lifetime = o.lifetime !== undefined ? Number(o.lifetime) : undefined;
        const refresh = Number(o.trustRefresh);
        const renewAt = Number(o.renewAt);
        if (o.keyAlgorithm !== 'ECDSA-P256' && o.keyAlgorithm !== 'ECDSA-P384') throw new GatehouseError('ERR_SIDECAR_ARGUMENT_INVALID', { detail: `--key-algorithm ${JSON.stringify(o.keyAlgorithm)}` });
        const keyAlgorithm: 'ECDSA-P256' | 'ECDSA-P384' = o.keyAlgorithm;
        if ((lifetime !== undefined && !Number.isInteger(lifetime)) || !(refresh >= 1 && refresh <= 3600) || !(renewAt > 0 && renewAt < 1)) {
          throw new GatehouseError('ERR_SIDECAR_ARGUMENT_INVALID', { detail: '--lifetime must be an integer, --trust-refresh between 1 and 3600 seconds, --renew-at between 0 and 1' });
        }
        const sidecar = await startSidecar({
          identity: {
            gatehouseUrl: o.gatehouse, spiffeId: o.spiffeId, dataDir: o.dataDir, apiPath: o.apiPath ?? '/.well-known/gatehouse/pki',
            ...(o.gatehouseCa ? { gatehouseCa: await readFile(o.gatehouseCa, 'utf8') } : {}),
            ...(bootstrapToken ? { bootstrapToken } : {}),
            ...(o.dns.length ? { dnsNames: o.dns } : {}), ...(o.ip.length ? { ipAddresses: o.ip } : {}),
            ...(lifetime !== undefined ? { lifetimeSeconds: lifetime } : {}),
            trustRefreshMs: refresh * 1000, renewAtFraction: renewAt, keyAlgorithm,
          },
          inbound: o.inbound.map(parseInbound), outbound: o.outbound.map(parseOutbound), allowPeers: o.allowPeer,
          ...(o.http ? { http: true } : {}), ...(o.alpn.length ? { alpn: o.alpn } : {}), logger,
        });
        logger.info({ inbound: sidecar.inbound, outbound: sidecar.outbound }, 'sidecar listening');
        const shutdown = (signal: string) => {
          logger.info({ signal }, 'sidecar stopping');
          sidecar.close().then(() => { logger.flush(); process.exit(0); }, () => process.exit(1));
        };
        process.once('SIGINT', () => shutdown('SIGINT'));
        process.once('SIGTERM', () => shutdown('SIGTERM'));
      } catch (error) {
        const detail = isGatehouseError(error) ? { code: error.code, detail: error.detail } : { detail: (error as Error).message };
        logger.error(detail, 'sidecar failed to start');
        logger.flush();
        console.error(`gatehouse sidecar: ${'code' in detail ? `${detail.code}: ` : ''}${detail.detail ?? 'failed'}`);
        process.exitCode = 1;
      }
    });
}
