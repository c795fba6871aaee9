/**
 * A real CA (src/pki on a memory repository) that issues every secure-mail workload its
 * certificate from a CSR with a one-use bootstrap token — the same path the supervisor
 * takes — and writes key, chain and trust files the way the services read them.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pkiSchema } from '../../../src/core/config/pki-schema.ts';
import { CertificateAuthority } from '../../../src/pki/authority.ts';
import { initCa } from '../../../src/pki/ca-init.ts';
import { MemoryPkiRepository } from '../../../src/pki/memory-repository.ts';
import { generateKeyAndCsr } from '../../../src/pki/mtls/rotator.ts';
import type { TlsMaterial } from '../../../src/pki/mtls/tls-material.ts';
import type { TrustStore } from '../../../src/pki/trust-store.ts';

export const TRUST_DOMAIN = 'mail.test';

export interface IssuedFiles { spiffeId: string; keyFile: string; chainFile: string; material: TlsMaterial }
export interface TrustFiles { trustDomain: string; rootsFile: string; intermediatesFile: string; crlFiles: string[] }

export interface TestPki {
  ca: CertificateAuthority;
  trust: TrustStore;
  trustFiles: TrustFiles;
  /** Issues `spiffe://mail.test/<kind>/<name>` through a bootstrap token and writes its files under `dir`. */
  issue(kind: 'svc' | 'gateway', name: string): Promise<IssuedFiles>;
}

export async function createTestPki(dir: string): Promise<TestPki> {
  const config = pkiSchema.parse({ trustDomain: TRUST_DOMAIN });
  const repo = new MemoryPkiRepository();
  const masterKey = Buffer.from(randomBytes(32).toString('base64url'));
  await initCa({ repo, masterKey, config });
  const ca = await CertificateAuthority.open({ repo, masterKey, config, publicUrl: 'https://127.0.0.1:1' });
  const trust = await ca.currentTrust();
  await mkdir(join(dir, 'trust'), { recursive: true });
  const trustFiles: TrustFiles = {
    trustDomain: TRUST_DOMAIN,
    rootsFile: join(dir, 'trust', 'roots.pem'),
    intermediatesFile: join(dir, 'trust', 'intermediates.pem'),
    crlFiles: trust.crlPems.map((_, i) => join(dir, 'trust', `crl-${i}.pem`)),
  };
  await writeFile(trustFiles.rootsFile, trust.bundlePem);
  await writeFile(trustFiles.intermediatesFile, trust.intermediatesPem);
  await Promise.all(trust.crlPems.map((pem, i) => writeFile(trustFiles.crlFiles[i]!, pem)));
  return {
    ca, trust, trustFiles,
    async issue(kind, name) {
      const spiffeId = `spiffe://${TRUST_DOMAIN}/${kind}/${name}`;
      const names = { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] };
      const { keyPem, csrPem } = await generateKeyAndCsr(spiffeId, names);
      const { token } = await ca.createBootstrapToken({ spiffeId, ...names, ttlSeconds: 300 });
      const issued = await ca.issueWithBootstrapToken(csrPem, token);
      const base = join(dir, 'tls', `${kind}-${name}`);
      await mkdir(base, { recursive: true, mode: 0o700 });
      const keyFile = join(base, 'key.pem');
      const chainFile = join(base, 'chain.pem');
      await writeFile(keyFile, keyPem, { mode: 0o600 });
      await writeFile(chainFile, issued.chainPem);
      return { spiffeId, keyFile, chainFile, material: { keyPem, chainPem: issued.chainPem, spiffeId, serial: issued.serial, notBefore: issued.notBefore, notAfter: issued.notAfter } };
    },
  };
}
