/**
 * Where the master key that seals the CA keys comes from.
 *
 * Order: `pki.key` in the configuration, then the GATEHOUSE_PKI_KEY environment variable.
 * In development mode only, when neither is set, a random key is generated once into
 * `<dataDir>/pki/master.key` (mode 0600) with a loud warning: anyone who can read the data
 * directory can then read the CA keys. Production refuses to start without a key.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { GatehouseError } from '../core/errors.ts';

export const PKI_KEY_ENV = 'GATEHOUSE_PKI_KEY';
const MIN_LENGTH = 32;

export interface ResolveMasterKeyOptions {
  /** `pki.key` from the configuration, if any. */
  configured?: string | undefined;
  mode: 'development' | 'production';
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

/** Path of the generated development key file. */
export function devKeyFile(dataDir: string): string {
  return join(dataDir, 'pki', 'master.key');
}

function checked(value: string, source: string): Buffer {
  const trimmed = value.trim();
  if (trimmed.length < MIN_LENGTH) {
    throw new GatehouseError('ERR_PKI_MASTER_KEY_MISSING', { detail: `${source} is shorter than ${MIN_LENGTH} characters` });
  }
  return Buffer.from(trimmed, 'utf8');
}

/**
 * Returns the master key bytes.
 * @throws GatehouseError ERR_PKI_MASTER_KEY_MISSING in production without a key, or for a key that is too short.
 */
export async function resolveMasterKey(options: ResolveMasterKeyOptions): Promise<Buffer> {
  if (options.configured !== undefined) return checked(options.configured, 'pki.key');
  const fromEnv = (options.env ?? process.env)[PKI_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return checked(fromEnv, PKI_KEY_ENV);
  if (options.mode === 'production') {
    throw new GatehouseError('ERR_PKI_MASTER_KEY_MISSING', { detail: `production mode needs pki.key or ${PKI_KEY_ENV}; a generated key file is a development convenience only` });
  }
  const file = devKeyFile(options.dataDir);
  await mkdir(join(options.dataDir, 'pki'), { recursive: true, mode: 0o700 });
  // Written to a private temporary file, then hard-linked into place: link() fails with
  // EEXIST when another process won, so concurrent starts agree on one complete key.
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temp, randomBytes(32).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
  try {
    await link(temp, file);
    options.logger?.warn({ file }, `DEVELOPMENT ONLY: generated a PKI master key in ${file}. Anyone who can read the data directory can decrypt the CA keys. Set ${PKI_KEY_ENV} (refused without it in production).`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    options.logger?.warn({ file }, `DEVELOPMENT ONLY: the PKI master key is read from ${file}; set ${PKI_KEY_ENV} for real deployments.`);
  } finally {
    await unlink(temp);
  }
  const key = await readFile(file, 'utf8');
  return checked(key, file);
}
