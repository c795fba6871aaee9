/**
 * The files a PostgreSQL URL names for TLS (`sslrootcert`, `sslcert`, `sslkey`). `pg` reads
 * them only when it first connects, and a missing one then surfaced as ERR_INTERNAL on every
 * query; they are checked when the store opens instead, as configuration.
 */
import { accessSync, constants } from 'node:fs';
import { GatehouseError } from '../../core/errors.ts';

const FILE_PARAMETERS = ['sslrootcert', 'sslcert', 'sslkey'];

/** Throws ERR_CONFIG_INVALID naming the first TLS file parameter whose file cannot be read. */
export function assertTlsFilesReadable(url: string): void {
  let params: URLSearchParams;
  try {
    params = new URL(url).searchParams;
  } catch {
    return; // parseStoreUrl reports a URL that does not parse
  }
  for (const [key, path] of params) {
    const name = key.toLowerCase();
    // libpq's special value: the system's trust store, not a file.
    if (!FILE_PARAMETERS.includes(name) || (name === 'sslrootcert' && path === 'system')) continue;
    try {
      accessSync(path, constants.R_OK);
    } catch (err) {
      throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `store.url: ${name}=${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, cause: err });
    }
  }
}
