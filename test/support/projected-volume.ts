/**
 * A Kubernetes ConfigMap/Secret volume, updated the way the kubelet's AtomicWriter does it:
 * the payload goes into a new timestamped directory `..<time>.<random>`, a `..data_tmp`
 * symlink to it is renamed over `..data` (the atomic step), every top-level path is a
 * symlink `name -> ..data/name`, and the previous timestamped directory is then deleted.
 */
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

function stamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}`;
}

export class ProjectedVolume {
  #current: string | undefined;
  #visible = new Set<string>();

  readonly dir: string;

  /** `dir` is the mount point; it must exist. */
  constructor(dir: string) { this.dir = dir; }

  /** Publishes `files` (paths relative to the volume, `a/b.cedar` allowed) as the volume's whole content. */
  async write(files: Record<string, string>): Promise<void> {
    const ts = await mkdtemp(join(this.dir, `..${stamp()}.`));
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(ts, path)), { recursive: true });
      await writeFile(join(ts, path), content, { mode: 0o644 });
    }
    await symlink(basename(ts), join(this.dir, '..data_tmp'));
    await rename(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    const top = new Set(Object.keys(files).map((p) => p.split('/')[0]!));
    for (const name of top) if (!this.#visible.has(name)) await symlink(join('..data', name), join(this.dir, name));
    for (const name of this.#visible) if (!top.has(name)) await rm(join(this.dir, name));
    if (this.#current) await rm(this.#current, { recursive: true });
    this.#current = ts;
    this.#visible = top;
  }
}
