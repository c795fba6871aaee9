/**
 * The data directory holds the embedded store, the generated keys (PKI master key, identity
 * key-encryption secret, audit signing key) and the development TLS key. Whoever can write to
 * it can plant or swap any of them, so a directory another user can write to is refused before
 * anything is read from it or written into it (as sshd's StrictModes and PostgreSQL do).
 */
import { mkdir, stat } from 'node:fs/promises';
import { ConfigError } from './load.ts';

export interface DataDirectory {
  /** Settings that are allowed but worth saying (group-writable), as `dataDir: …` messages. */
  warnings: string[];
}

/**
 * Creates the directory (0700) when it does not exist and checks who may write to it.
 *
 * @throws ConfigError (path `dataDir`) when it is not a directory, is writable by every user,
 *   or belongs to another user than the one Gatehouse runs as (root excepted).
 * @example
 *   const { warnings } = await prepareDataDirectory(config.dataDir);
 */
export async function prepareDataDirectory(dir: string, source = 'dataDir'): Promise<DataDirectory> {
  const refuse = (message: string) => new ConfigError([{ path: ['dataDir'], message: `${dir} ${message}` }], source);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw refuse(`cannot be created: ${(err as Error).message}`);
  }
  const st = await stat(dir);
  if (!st.isDirectory()) throw refuse('is not a directory');
  const mode = (st.mode & 0o7777).toString(8);
  if ((st.mode & 0o002) !== 0) {
    throw refuse(`is world-writable (mode ${mode}): writable by every user, who could plant keys, certificates or a store in it; chmod 700 it`);
  }
  const uid = process.getuid?.();
  // Root owning it is fine (a volume's mount point): root can change anything anyway.
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
    throw refuse(`is owned by user ${st.uid}, not by the user Gatehouse runs as (${uid}), who could replace its keys and store; chown it or use a directory of this user`);
  }
  const warnings: string[] = [];
  // Kubernetes makes fsGroup volumes group-writable (2770) on every mount: a warning, not a refusal.
  if ((st.mode & 0o020) !== 0) warnings.push(`dataDir: ${dir} is writable by its group (mode ${mode}); every member can replace its keys and store`);
  return { warnings };
}
