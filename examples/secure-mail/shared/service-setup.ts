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
  tls: z.object({ keyFile: z.string(), chainFile: z.string() }).strict(),
  trust: z.object({
    trustDomain: z.string(),
    rootsFile: z.string(),
    intermediatesFile: z.string(),
    crlFiles: z.array(z.string()).default([]),
  }).strict(),
  gateway: z.object({
    /** Where service-to-service calls go. */
    url: z.url(),
    spiffeId: z.string().startsWith('spiffe://'),
    issuer: z.string(),
    jwksUrl: z.url().optional(),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
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

export function loadTrustStore(trust: BaseServiceConfig['trust']): TrustStore {
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
  material: TlsMaterial;
  trust: TrustStore;
  verifier: AssertionVerifier;
  caller: ServiceCaller;
}

/** Parses `raw` (never casts it) and builds the shared parts. Throws with every problem listed. */
export function setupService<S extends z.ZodType<BaseServiceConfig>>(raw: unknown, schema: S, logger?: Logger): ServiceSetup<z.infer<S>> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Error(`invalid service configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const config = parsed.data;
  const log = logger ?? pino({ level: config.logLevel, base: { service: config.name } });
  const material = loadTlsMaterial(config.tls.keyFile, config.tls.chainFile);
  const trust = loadTrustStore(config.trust);
  const verifier = createAssertionVerifier({
    issuer: config.gateway.issuer,
    audience: config.name,
    ...(config.gateway.jwks ? { jwks: config.gateway.jwks as unknown as JSONWebKeySet } : { jwksUrl: config.gateway.jwksUrl! }),
  });
  const caller = createServiceCaller({ gatewayUrl: config.gateway.url, material, trust, gatewaySpiffeId: config.gateway.spiffeId });
  return { config, logger: log, material, trust, verifier, caller };
}

/** Reads the config file named by `--config <file>` (the supervisor's way of starting a service). */
export function readConfigArgument(argv = process.argv): unknown {
  const i = argv.indexOf('--config');
  const file = i >= 0 ? argv[i + 1] : undefined;
  if (!file) throw new Error('usage: --config <service.json>');
  return JSON.parse(readFileSync(file, 'utf8')) as unknown;
}
