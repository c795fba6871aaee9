/**
 * What every service process starts from: one JSON file written by the supervisor (or a
 * test), validated with zod, naming the service's port, data directory, certificate files,
 * trust bundle and Gatehouse's coordinates. Turns it into ready-made parts: TLS material,
 * trust store, assertion verifier, a caller for service-to-service calls, and a logger.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import pino, { type Logger } from 'pino';
import type { JSONWebKeySet } from 'jose';
import { TrustStore } from '../../../src/pki/trust-store.ts';
import type { TlsMaterial } from '../../../src/pki/mtls/tls-material.ts';
import { join } from 'node:path';
import { staticServiceTls, workloadServiceTls, type ServiceTls } from './service-tls.ts';
import { createAssertionVerifier, type AssertionVerifier } from '../../../src/sdk/verifier.ts';
import { createServiceCaller, type ServiceCaller } from './service-caller.ts';

export const SERVICE_NAMES = ['web', 'messages', 'lifetime', 'notification', 'keys'] as const;
export type ServiceName = typeof SERVICE_NAMES[number];

export const baseServiceConfigSchema = z.object({
  name: z.enum(SERVICE_NAMES),
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65535),
  dataDir: z.string().min(1),
  logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  /** Certificate from files (with `trust`), or … */
  tls: z.object({ keyFile: z.string(), chainFile: z.string() }).strict().optional(),
  trust: z.object({
    trustDomain: z.string(),
    rootsFile: z.string(),
    intermediatesFile: z.string(),
    crlFiles: z.array(z.string()).default([]),
  }).strict().optional(),
  /** … a workload identity kept current by Gatehouse's CA (the supervisor's way). */
  workload: z.object({
    spiffeId: z.string().startsWith('spiffe://'),
    bootstrapTokenFile: z.string().optional(),
    trustRefreshMs: z.number().int().min(1000).max(3_600_000).default(30_000),
  }).strict().optional(),
  gateway: z.object({
    /** Where service-to-service calls go. */
    url: z.url(),
    spiffeId: z.string().startsWith('spiffe://'),
    issuer: z.string(),
    jwksUrl: z.url().optional(),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
    /**
     * PEM file trusted for Gatehouse's public listener (its development certificate). With it,
     * calls to `url` check the listener's certificate and host name the way a browser does;
     * without it, they expect the listener to present Gatehouse's workload certificate.
     */
    caFile: z.string().optional(),
  }).strict().refine((g) => g.jwksUrl !== undefined || g.jwks !== undefined, 'jwksUrl or jwks is required'),
}).strict();

export type BaseServiceConfig = z.infer<typeof baseServiceConfigSchema>;

/** Reads the material a workload holds: its key, its chain, and the facts of its leaf. */
export function loadTlsMaterial(keyFile: string, chainFile: string): TlsMaterial {
  const keyPem = readFileSync(keyFile, 'utf8');
  const chainPem = readFileSync(chainFile, 'utf8');
  const leaf = new X509Certificate(chainPem);
  const uri = /URI:(spiffe:\/\/[^,\s]+)/.exec(leaf.subjectAltName ?? '')?.[1];
  if (!uri) throw new Error(`${chainFile}: the certificate has no SPIFFE id`);
  return { keyPem, chainPem, spiffeId: uri, serial: leaf.serialNumber.toLowerCase(), notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo) };
}

export function loadTrustStore(trust: NonNullable<BaseServiceConfig['trust']>): TrustStore {
  return new TrustStore({
    trustDomain: trust.trustDomain,
    rootPems: [readFileSync(trust.rootsFile, 'utf8')],
    intermediatePems: [readFileSync(trust.intermediatesFile, 'utf8')],
    crlPems: trust.crlFiles.map((f) => readFileSync(f, 'utf8')),
  });
}

export interface ServiceSetup<C extends BaseServiceConfig> {
  config: C;
  logger: Logger;
  tls: ServiceTls;
  verifier: AssertionVerifier;
  caller: ServiceCaller;
  /** Stops the caller and the workload identity. */
  close(): Promise<void>;
}

async function serviceTls(config: BaseServiceConfig, logger: Logger): Promise<ServiceTls> {
  if (config.workload) {
    return workloadServiceTls({
      gatehouseUrl: config.gateway.url,
      gatehouseCa: config.gateway.caFile ? readFileSync(config.gateway.caFile, 'utf8') : undefined,
      spiffeId: config.workload.spiffeId,
      dataDir: join(config.dataDir, 'identity'),
      bootstrapTokenFile: config.workload.bootstrapTokenFile,
      trustRefreshMs: config.workload.trustRefreshMs,
      logger,
    });
  }
  if (!config.tls || !config.trust) throw new Error('invalid service configuration: either workload, or tls and trust, are required');
  return staticServiceTls(loadTlsMaterial(config.tls.keyFile, config.tls.chainFile), loadTrustStore(config.trust));
}

/** Parses `raw` (never casts it) and builds the shared parts. Throws with every problem listed. */
export async function setupService<S extends z.ZodType<BaseServiceConfig>>(raw: unknown, schema: S, logger?: Logger): Promise<ServiceSetup<z.infer<S>>> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Error(`invalid service configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const config = parsed.data;
  const log = logger ?? pino({ level: config.logLevel, base: { service: config.name } });
  const tls = await serviceTls(config, log);
  const verifier = createAssertionVerifier({
    issuer: config.gateway.issuer,
    audience: config.name,
    // Every route to a service is per-request (gatehouse.yaml): a cached assertion, valid for
    // any method and path for about a minute, is refused.
    requireRequestBinding: true,
    ...(config.gateway.jwks ? { jwks: config.gateway.jwks as unknown as JSONWebKeySet } : { jwksUrl: config.gateway.jwksUrl! }),
  });
  const caller = createServiceCaller({
    gatewayUrl: config.gateway.url, tls, gatewaySpiffeId: config.gateway.spiffeId,
    ...(config.gateway.caFile ? { gatewayCa: readFileSync(config.gateway.caFile, 'utf8') } : {}),
  });
  return { config, logger: log, tls, verifier, caller, async close() { await caller.close(); await tls.close(); } };
}

/** Reads the config file named by `--config <file>` (the supervisor's way of starting a service). */
export function readConfigArgument(argv = process.argv): unknown {
  const i = argv.indexOf('--config');
  const file = i >= 0 ? argv[i + 1] : undefined;
  if (!file) throw new Error('usage: --config <service.json>');
  return JSON.parse(readFileSync(file, 'utf8')) as unknown;
}
