/**
 * Calls `onChange` when what a file or directory holds changes, however it was replaced.
 *
 * fs.watch (inotify on Linux) watches an inode, not a name, and follows symlinks when armed.
 * Configuration is rarely edited in place: editors and atomic writers rename a new file
 * over the old one, a Kubernetes ConfigMap volume swaps its `..data` symlink to a new
 * directory and deletes the old one, a deploy swaps a directory or a symlink. A watch on
 * the old inode then goes silent. So:
 *
 * - the path itself and the directory that holds it are both watched; events on the parent
 *   count only for the path's own name, the parent's own name (moved or deleted) and the
 *   first hop of the path's symlink (`..data` in a ConfigMap volume);
 * - after each look, a watch whose inode is no longer the one at its path is armed again
 *   (and the old one closed, so nothing piles up across reloads);
 * - a look compares a content fingerprint with the last one seen, so the several events of
 *   one update make one change and a save that writes the same bytes makes none;
 * - a stat-and-hash poll every `pollMs` is the fallback for what no watch on these two
 *   inodes can see: a symlink swapped further up the path (`ln -sfn release-2 current`), a
 *   directory that was missing when last looked at, a watch that failed.
 *
 * Looks never overlap; events during a look bring one more look after it.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readlink, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute } from 'node:path';

export interface PathWatcherOptions {
  /** What the path holds now (see fingerprint.ts); a different value is a change. */
  fingerprint(): Promise<string>;
  /**
   * The fingerprint of what the caller has in force, taken before it read the path: a change
   * made between that read and the watch being armed is then reported at the first look.
   * Without it, the first look only notes the content, and such a change goes unreported.
   */
  initial?: string;
  /** Called once per change, after events have been quiet this long. */
  debounceMs: number;
  /** Look at the path this often without any event (0: never). */
  pollMs: number;
  /** Whether the watch keeps the process running, as fs.watch's option of that name (default true). */
  persistent?: boolean;
  /** Awaited before the next look. */
  onChange(): unknown;
  onError?(err: unknown): void;
}

export interface PathWatcher {
  /** Settles after the first look: watches armed, a change since `initial` reported. */
  readonly ready: Promise<void>;
  close(): void;
}

/** One fs.watch and the inode it was armed on. */
interface Slot { watcher: FSWatcher | undefined; inode: string }

async function inodeOf(path: string): Promise<string> {
  try {
    const s = await stat(path);
    return `${s.dev}:${s.ino}`;
  } catch {
    return 'absent';
  }
}

/** `..data` for a symlink `config.yaml -> ..data/config.yaml`: a name in the same directory whose change changes the path. */
async function firstLinkHop(path: string): Promise<string | undefined> {
  try {
    const target = await readlink(path);
    if (isAbsolute(target)) return undefined;
    const head = target.split('/')[0];
    return head === '.' || head === '..' || !head ? undefined : head;
  } catch {
    return undefined;
  }
}

export function watchPath(path: string, options: PathWatcherOptions): PathWatcher {
  const parent = dirname(path);
  const own: Slot = { watcher: undefined, inode: '' };
  const outer: Slot = { watcher: undefined, inode: '' };
  const parentNames = new Set([basename(path), basename(parent)]);
  const persistent = options.persistent ?? true;
  let closed = false;
  let last = options.initial;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  const schedule = () => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(look, options.debounceMs);
    if (!persistent) timer.unref();
  };

  const report = (err: unknown) => { try { options.onError?.(err); } catch { /* a failing logger must not stop the watch */ } };

  const arm = (slot: Slot, target: string, inode: string, relevant: (name: string | null) => boolean) => {
    slot.watcher?.close();
    slot.watcher = undefined;
    slot.inode = '';
    if (inode === 'absent') return;
    try {
      const w = watch(target, { persistent }, (_event, name) => { if (relevant(name)) schedule(); });
      w.on('error', (err) => {
        report(err);
        w.close();
        if (slot.watcher === w) { slot.watcher = undefined; slot.inode = ''; }
        schedule();
      });
      slot.watcher = w;
      slot.inode = inode;
    } catch (err) {
      // Gone between the stat and the watch: the next event on the parent, or the poll, arms it.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') report(err);
    }
  };

  /** Arms again every watch whose path now names another inode (or nothing, or was never armed). */
  const rearm = async () => {
    const [ownInode, parentInode, hop] = await Promise.all([inodeOf(path), inodeOf(parent), firstLinkHop(path)]);
    if (closed) return;
    if (hop) parentNames.add(hop);
    if (!own.watcher || own.inode !== ownInode) arm(own, path, ownInode, () => true);
    if (!outer.watcher || outer.inode !== parentInode) arm(outer, parent, parentInode, (name) => name === null || parentNames.has(name));
  };

  const lookOnce = async () => {
    await rearm();
    if (closed) return;
    const now = await options.fingerprint();
    if (closed || now === last) return;
    const first = last === undefined;
    last = now;
    if (!first) await options.onChange();
  };

  function look(): Promise<void> {
    if (closed) return Promise.resolve();
    if (running) { again = true; return running; }
    running = (async () => {
      do {
        again = false;
        try { await lookOnce(); } catch (err) { report(err); }
      } while (again && !closed);
      running = undefined;
    })();
    return running;
  }

  const ready = look();
  const poll = options.pollMs > 0 ? setInterval(look, options.pollMs) : undefined;
  if (!persistent) poll?.unref();

  return {
    ready,
    close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(poll);
      own.watcher?.close();
      outer.watcher?.close();
    },
  };
}
