/**
 * What every PKI command needs: the store-backed repository, the PKI configuration, the
 * public URL (for CRL distribution points) and the master key. The CLI builds it once from
 * the loaded configuration with {@link openPkiCommandContext}.
 */
import type { Logger } from 'pino';
import type { PkiConfig } from '../../core/config/pki-schema.ts';
import type { Store } from '../../store/index.ts';
import { createPkiRepo } from '../../store/repos/pki-repo.ts';
import { CertificateAuthority } from '../authority.ts';
import type { PkiEventListener } from '../events.ts';
import { resolveMasterKey } from '../master-key.ts';
import type { PkiRepository } from '../repository.ts';
import { createStoreSubjectBlocks, type SubjectBlocks } from '../../detect/subject-blocks.ts';

export interface PkiCommandContext {
  repo: PkiRepository;
  config: PkiConfig;
  publicUrl: string;
  masterKey: Uint8Array;
  logger?: Logger;
  onEvent?: PkiEventListener;
  /** Temporary blocks of identities: renewal and bootstrap issuance refuse a blocked one. */
  subjectBlocks?: SubjectBlocks;
}

export interface OpenPkiCommandContextOptions {
  store: Store;
  config: { pki: PkiConfig; dataDir: string; mode: 'development' | 'production'; publicUrl?: string | undefined };
  logger?: Logger;
  onEvent?: PkiEventListener;
}

/** Default public URL when none is configured (matches the gateway's default HTTPS port). */
export const DEFAULT_PUBLIC_URL = 'https://localhost:8443';

export async function openPkiCommandContext(options: OpenPkiCommandContextOptions): Promise<PkiCommandContext> {
  const { config } = options;
  const masterKey = await resolveMasterKey({ configured: config.pki.key, mode: config.mode, dataDir: config.dataDir, ...(options.logger ? { logger: options.logger } : {}) });
  return {
    repo: createPkiRepo(options.store.db), config: config.pki, publicUrl: config.publicUrl ?? DEFAULT_PUBLIC_URL, masterKey,
    // The blocks live in the same store: every instance and the CLI refuse a blocked identity alike.
    subjectBlocks: createStoreSubjectBlocks(options.store),
    ...(options.logger ? { logger: options.logger } : {}), ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  };
}

/** Opens the CA of the context (ERR_PKI_NOT_INITIALIZED before `ca init`). */
export function openAuthority(ctx: PkiCommandContext): Promise<CertificateAuthority> {
  return CertificateAuthority.open({
    repo: ctx.repo, masterKey: ctx.masterKey, config: ctx.config, publicUrl: ctx.publicUrl,
    ...(ctx.logger ? { logger: ctx.logger } : {}), ...(ctx.onEvent ? { onEvent: ctx.onEvent } : {}),
    ...(ctx.subjectBlocks ? { subjectBlocks: ctx.subjectBlocks } : {}),
  });
}
