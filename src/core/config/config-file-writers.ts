/**
 * Who besides its owner can change the configuration file. It is reloaded live on every
 * change, so whoever can write it, or rename another file over it, decides the routes and
 * who may use them. A file every local user can write, or one in a directory every local user
 * can write without the sticky bit, is an insecure convenience (a bind mount from a Windows or
 * macOS host shows every file as 0777): warned about loudly in development, refused in
 * production. A group-writable file is only warned about (a deploy group is a common choice).
 */
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ConfigProblem } from './load.ts';

const STICKY = 0o1000;

/** `problems`: refused in production, warnings in development; `warnings`: in every mode. */
export async function configFileWriters(file: string): Promise<{ problems: ConfigProblem[]; warnings: string[] }> {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const octal = (mode: number) => (mode & 0o7777).toString(8);
  try {
    const own = await stat(file);
    if ((own.mode & 0o002) !== 0) {
      problems.push({ path: [], message: `${file} is writable by every user of this machine (mode ${octal(own.mode)}): any of them could rewrite the configuration, which is reloaded live; chmod o-w it` });
    } else if ((own.mode & 0o020) !== 0) {
      warnings.push(`${file} is writable by its group (mode ${octal(own.mode)}): every member can change the configuration, which is reloaded live`);
    }
    const dir = dirname(file);
    const parent = await stat(dir);
    if ((parent.mode & 0o002) !== 0 && (parent.mode & STICKY) === 0) {
      problems.push({ path: [], message: `the directory ${dir} is writable by every user of this machine without the sticky bit (mode ${octal(parent.mode)}): any of them could rename another file over the configuration; chmod o-w it` });
    }
  } catch {
    // Just read; gone since (a reload racing a rename): the next change is looked at again.
  }
  return { problems, warnings };
}
