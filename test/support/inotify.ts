/** What this process holds open, from /proc: file descriptors and inotify watches (Linux). */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Watches held on every inotify instance of this process (one `inotify wd:` line each in fdinfo). */
export function inotifyWatchCount(): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try { target = readlinkSync(`/proc/self/fd/${fd}`); } catch { continue; }
    if (target !== 'anon_inode:inotify') continue;
    count += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length;
  }
  return count;
}
