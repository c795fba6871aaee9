/** What a backup or disk image of the services' data would show: the files under `dir` that hold `marker`. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Every file under `dir` (databases, journals, keys, logs) whose bytes contain `marker`. */
export async function filesHolding(dir: string, marker: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const name = join(entry.parentPath, entry.name);
    // A rollback journal lives only as long as its transaction: gone since the listing, it holds nothing.
    const bytes = await readFile(name).catch((err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return undefined; throw err; });
    if (bytes?.includes(marker)) found.push(name);
  }
  return found;
}
