/**
 * A fresh CA for a test: memory or store-backed repository, random master key, its own
 * scratch directory with the root and intermediate written out for openssl.
 */
import { randomBytes } from 'node:crypto';
import { pkiSchema, type PkiConfigInput } from '../../../src/core/config/pki-schema.ts';
import { CertificateAuthority } from '../../../src/pki/authority.ts';
import { initCa } from '../../../src/pki/ca-init.ts';
import type { PkiEvent } from '../../../src/pki/events.ts';
import { MemoryPkiRepository } from '../../../src/pki/memory-repository.ts';
import type { PkiRepository } from '../../../src/pki/repository.ts';
import { scratch } from './openssl.ts';

export const TRUST_DOMAIN = 'test.gatehouse';
export const PUBLIC_URL = 'https://gatehouse.test:8443';

export interface CaFixture {
  ca: CertificateAuthority;
  repo: PkiRepository;
  masterKey: Buffer;
  events: PkiEvent[];
  dir: string;
  rootPath: string;
  intermediatePath: string;
  path: (name: string) => string;
  write: (name: string, data: string | Uint8Array) => Promise<string>;
  /** Moves the CA's clock (for expiry tests). */
  setNow: (date: Date) => void;
  cleanup: () => Promise<void>;
}

export async function caFixture(options: { repo?: PkiRepository; config?: PkiConfigInput } = {}): Promise<CaFixture> {
  const repo = options.repo ?? new MemoryPkiRepository();
  const config = pkiSchema.parse({ trustDomain: TRUST_DOMAIN, ...options.config });
  const masterKey = randomBytes(32);
  const events: PkiEvent[] = [];
  const s = await scratch();
  let now: Date | undefined;
  await initCa({ repo, masterKey: Buffer.from(masterKey.toString('base64url')), config });
  const ca = await CertificateAuthority.open({
    repo, masterKey: Buffer.from(masterKey.toString('base64url')), config, publicUrl: PUBLIC_URL,
    onEvent: (e) => events.push(e), clock: () => now ?? new Date(),
  });
  return {
    ca, repo, masterKey: Buffer.from(masterKey.toString('base64url')), events, dir: s.dir,
    rootPath: await s.write('root.pem', ca.rootCertPem),
    intermediatePath: await s.write('intermediate.pem', ca.intermediateCertPem),
    path: s.path, write: s.write,
    setNow: (d) => { now = d; },
    cleanup: s.cleanup,
  };
}
