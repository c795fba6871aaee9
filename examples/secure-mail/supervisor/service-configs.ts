/**
 * One JSON configuration file per service (mode 0600: it names the bootstrap token file),
 * in the shape each service validates (`*ConfigSchema`). Every service gets a workload
 * identity from Gatehouse's CA, Gatehouse's coordinates, and the SPIFFE ids of its callers.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IDENTITY_ASSERTION_JWKS_PATH } from '../../../src/sdk/contract.ts';
import { gatewaySpiffeId } from '../../../src/gateway/extensions/pki.ts';
import type { ServiceName } from '../shared/service-setup.ts';
import { serviceSpiffeId } from './provision.ts';

export interface ServiceConfigInput {
  dataDir: string;
  trustDomain: string;
  publicUrl: string;
  assertionIssuer: string;
  /** Gatehouse's development certificate (trusted for its public listener). */
  gatewayCaFile: string;
  directoryFile: string;
  ports: Record<ServiceName, number>;
  tokens: Record<ServiceName, string>;
  smtpPort: number;
  minLifetimeSeconds: number;
}

/** Writes every service's config and token file; returns the config file per service. */
export async function writeServiceConfigs(input: ServiceConfigInput, services: readonly ServiceName[]): Promise<Record<ServiceName, string>> {
  const id = (name: ServiceName) => serviceSpiffeId(input.trustDomain, name);
  const files = {} as Record<ServiceName, string>;
  for (const name of services) {
    const dir = join(input.dataDir, 'services', name);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tokenFile = join(dir, 'bootstrap-token');
    await writeFile(tokenFile, input.tokens[name], { mode: 0o600 });
    const base = {
      name, port: input.ports[name], dataDir: join(dir, 'data'), logLevel: 'info',
      workload: { spiffeId: id(name), bootstrapTokenFile: tokenFile },
      gateway: {
        url: input.publicUrl, spiffeId: gatewaySpiffeId(input.trustDomain), issuer: input.assertionIssuer,
        jwksUrl: input.publicUrl + IDENTITY_ASSERTION_JWKS_PATH, caFile: input.gatewayCaFile,
      },
    };
    const extra: Record<ServiceName, Record<string, unknown>> = {
      web: {},
      keys: { callers: { messages: id('messages'), lifetime: id('lifetime') } },
      lifetime: { callers: { messages: id('messages') } },
      messages: {
        directoryFile: input.directoryFile, callers: { lifetime: id('lifetime'), notification: id('notification') },
        limits: { minLifetimeSeconds: input.minLifetimeSeconds, maxLifetimeSeconds: 7 * 86400, maxBodyChars: 32 * 1024, maxRecipients: 20 },
      },
      notification: {
        directoryFile: input.directoryFile, callers: { messages: id('messages') }, appUrl: `${input.publicUrl}/`,
        smtp: { host: '127.0.0.1', port: input.smtpPort, from: 'secure-mail@secure-mail.test', plainLoopbackOnly: true },
      },
    };
    await mkdir(join(dir, 'data'), { recursive: true, mode: 0o700 });
    files[name] = join(dir, 'config.json');
    await writeFile(files[name], JSON.stringify({ ...base, ...extra[name] }, null, 2), { mode: 0o600 });
  }
  return files;
}
