/**
 * What a watched path holds, as one string: two equal fingerprints mean a reader would see
 * the same thing. Content is hashed rather than compared by inode, size and mtime: a
 * ConfigMap update that changes only another key gives this file a new inode with the same
 * bytes (no reload is due), and two writes of the same size within one timestamp tick
 * (coarse, a few ms on Linux) would look alike.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Past this size a file is told apart by inode, size and times only (reading it each time would cost). */
const HASH_LIMIT_BYTES = 16 * 1024 * 1024;

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'unknown';
}

/** The file's content hash (symlinks followed), or what stands in its place: absent, a directory, a pipe. */
export async function fileFingerprint(file: string): Promise<string> {
  try {
    const s = await stat(file, { bigint: true });
    // A FIFO or device is not read: the read could block for as long as the writer likes.
    if (!s.isFile()) return s.isDirectory() ? 'directory' : `special:${s.dev}:${s.ino}`;
    if (s.size > HASH_LIMIT_BYTES) return `large:${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
    return `sha256:${createHash('sha256').update(await readFile(file)).digest('base64')}`;
  } catch (err) {
    const code = errorCode(err);
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'absent' : `error:${code}`;
  }
}

/**
 * The names and content of the entries of `dir` that `include` accepts. Entries that are
 * symlinks are followed, as a reader of the directory follows them (a ConfigMap volume's
 * `x.cedar -> ..data/x.cedar`).
 */
export async function directoryFingerprint(dir: string, include: (name: string) => boolean): Promise<string> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = errorCode(err);
    return code === 'ENOENT' ? 'absent' : `error:${code}`;
  }
  const hash = createHash('sha256');
  for (const name of names.filter(include).sort()) hash.update(`${name}\0${await fileFingerprint(join(dir, name))}\n`);
  return `dir:${hash.digest('base64')}`;
}
