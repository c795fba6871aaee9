/**
 * `gatehouse ca export-root --out <file> [--passphrase-env VAR] [--remove]`: writes the root
 * key (PKCS#8 PEM, encrypted with AES-256 when a passphrase is given) to a new file with
 * mode 0600, and with `remove` deletes it from the store: the root goes offline while the
 * intermediate keeps issuing. The file is never overwritten.
 */
import { createPrivateKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { GatehouseError } from '../../core/errors.ts';
import { emitSafely } from '../events.ts';
import { unsealPrivateKey } from '../key-sealing.ts';
import type { PkiCommandContext } from './context.ts';

export interface ExportRootOptions {
  out: string;
  passphrase?: string;
  remove?: boolean;
  /** Write the key without a passphrase, knowingly (`--unencrypted`); required in production. */
  unencrypted?: boolean;
  mode?: 'development' | 'production';
}

export async function caExportRootCommand(ctx: PkiCommandContext, options: ExportRootOptions): Promise<{ file: string; encrypted: boolean; removed: boolean }> {
  const ca = await ctx.repo.getCa();
  if (!ca) throw new GatehouseError('ERR_PKI_NOT_INITIALIZED');
  if (ca.rootKeySealed === null) throw new GatehouseError('ERR_PKI_ROOT_KEY_OFFLINE', { detail: 'the root key was already exported and removed' });
  if (options.passphrase !== undefined && options.passphrase.length < 12) {
    throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { detail: 'passphrase shorter than 12 characters' });
  }
  // The root key in clear on a disk (or a backup of it) is every certificate Gatehouse will ever
  // trust: in production only when the operator says so; otherwise with a warning.
  if (options.passphrase === undefined && options.unencrypted !== true) {
    if (options.mode === 'production') {
      throw new GatehouseError('ERR_CONFIG_INSECURE_IN_PRODUCTION', { detail: 'ca export-root without --passphrase-env writes the root key unencrypted: pass --passphrase-env VAR, or --unencrypted to accept that' });
    }
    ctx.logger?.warn({ file: options.out }, 'DEVELOPMENT ONLY: the root CA key is written unencrypted (refused in production without --unencrypted; use --passphrase-env)');
  }
  const pkcs8 = unsealPrivateKey(ca.rootKeySealed, ctx.masterKey, 'root');
  try {
    const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    const pem = options.passphrase !== undefined
      ? key.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: options.passphrase })
      : key.export({ format: 'pem', type: 'pkcs8' });
    await writeFile(options.out, pem, { mode: 0o600, flag: 'wx' });
  } finally {
    pkcs8.fill(0);
  }
  emitSafely(ctx.onEvent, { type: 'pki.ca.root_key_exported' });
  if (options.remove) {
    await ctx.repo.dropRootKey();
    emitSafely(ctx.onEvent, { type: 'pki.ca.root_key_removed' });
  }
  ctx.logger?.warn({ file: options.out, removed: options.remove === true }, 'root CA key exported');
  return { file: options.out, encrypted: options.passphrase !== undefined, removed: options.remove === true };
}
