/**
 * Whatever is in the spool is replayed into the chain at the next start and signed over by the
 * next checkpoint: a user who can write to the directory could plant forged records there (or a
 * segment that is a symbolic link to any file the writer would then append to). The same rule as
 * the data directory's (core/config/data-directory.ts), for an `audit.spoolDir` outside it too,
 * and one step stricter for the group:
 *
 *   - writable by every user, or owned by another user (root excepted): refused, always;
 *   - writable by its group: a warning at start, refused in production. Every member of the group
 *     could plant records; the data directory only warns about it because Kubernetes makes fsGroup
 *     volumes group-writable on mount, and the spool is a directory Gatehouse creates itself (0700).
 *
 * Refusals are ERR_AUDIT_SPOOL_INSECURE.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { GatehouseError } from '../core/errors.ts';

/**
 * Checks the spool directory; returns the warnings to log at start.
 *
 * @throws GatehouseError ERR_AUDIT_SPOOL_INSECURE
 * @example
 *   for (const w of checkSpoolDirectory(dir, config.mode)) logger.warn({ spoolDir: dir }, w);
 */
export function checkSpoolDirectory(dir: string, mode: 'development' | 'production'): string[] {
  const where = `audit spool ${resolve(dir)}`;
  const refuse = (why: string) => new GatehouseError('ERR_AUDIT_SPOOL_INSECURE', { detail: `${where} ${why}` });
  const st = statSync(dir);
  if (!st.isDirectory()) throw refuse('is not a directory');
  const bits = (st.mode & 0o7777).toString(8);
  if ((st.mode & 0o002) !== 0) throw refuse(`is world-writable (mode ${bits}): any user could plant records to be replayed into the audit log; chmod 700 it`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) throw refuse(`is owned by user ${st.uid}, not by the user Gatehouse runs as (${uid}); chown it or use a directory of this user`);
  if ((st.mode & 0o020) === 0) return [];
  const why = `is writable by its group (mode ${bits}): every member could plant records to be replayed into the audit log; chmod 700 it`;
  if (mode === 'production') throw refuse(`${why} (refused in production)`);
  return [`${where} ${why} — refused when NODE_ENV=production`];
}
