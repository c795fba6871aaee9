/**
 * The SQLite file holds live secrets in plain text (the OIDC provider's opaque refresh and
 * access tokens are their own row ids) besides sealed keys and session hashes. A new file is
 * created 0600 (open-sqlite.ts) and SQLite gives its -wal and -shm files the same mode, but an
 * existing file keeps whatever mode it was given (copied in, restored from a backup, made by
 * hand). Changing it silently could break a deliberate setup (a backup group, a Kubernetes
 * fsGroup), so it is reported instead.
 */
import { statSync } from 'node:fs';
import { MEMORY } from './open-sqlite.ts';

/** The file's permission bits when group or others have any access to it, else undefined. */
export function looseFileMode(location: string): number | undefined {
  if (location === MEMORY) return undefined;
  try {
    const mode = statSync(location).mode & 0o777;
    return (mode & 0o077) === 0 ? undefined : mode;
  } catch {
    return undefined;
  }
}
