/**
 * The external programs the harness drives, installed from Debian when missing, and the
 * versions of everything that shapes the figures (recorded next to them).
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { cpus, loadavg, release } from 'node:os';

const exec = promisify(execFile);

/** Absolute paths of the external programs, and what apt said about wrk2. */
export interface ToolPaths {
  nginx: string;
  wrk: string;
  openssl: string;
  /** Absent when util-linux's taskset is missing: then nothing is pinned. */
  taskset: string | undefined;
  /** Whether Debian offers wrk2 (fixed-rate wrk); see BENCHMARKS.md for what is used instead. */
  wrk2Available: boolean;
}

async function which(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const path = `${dir}/${name}`;
    try {
      await exec('test', ['-x', path]);
      return path;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

// RUNLEVEL=1 stops the nginx package's postinst from starting a system nginx on port 80.
const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', RUNLEVEL: '1' };

/**
 * Finds nginx, wrk, openssl and taskset; installs nginx and wrk with apt-get when missing
 * (`apt-get update` once, first). Also asks apt whether wrk2 exists.
 */
export async function ensureTools(log: (message: string) => void): Promise<ToolPaths> {
  let updated = false;
  const aptUpdate = async (): Promise<void> => {
    if (updated) return;
    log('apt-get update');
    await exec('apt-get', ['update', '-qq'], { env: aptEnv, maxBuffer: 16 * 1024 * 1024 });
    updated = true;
  };
  const missing = [];
  if (!(await which('nginx'))) missing.push('nginx');
  if (!(await which('wrk'))) missing.push('wrk');
  if (missing.length > 0) {
    await aptUpdate();
    log(`apt-get install -y ${missing.join(' ')}`);
    await exec('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env: aptEnv, maxBuffer: 64 * 1024 * 1024 });
  }
  const nginx = await which('nginx');
  const wrk = await which('wrk');
  const openssl = await which('openssl');
  if (!nginx || !wrk || !openssl) throw new Error(`required tools missing after install: ${[!nginx && 'nginx', !wrk && 'wrk', !openssl && 'openssl'].filter(Boolean).join(', ')}`);
  const wrk2Available = await aptHasCandidate('wrk2', aptUpdate, () => updated || hasPackageLists());
  return { nginx, wrk, openssl, taskset: await which('taskset'), wrk2Available };
}

/** `apt-cache policy NAME` names a candidate version only when the package exists. */
async function aptHasCandidate(name: string, aptUpdate: () => Promise<void>, listsFresh: () => boolean): Promise<boolean> {
  const policy = async (): Promise<boolean> => {
    const { stdout } = await exec('apt-cache', ['policy', name]).catch(() => ({ stdout: '' }));
    const candidate = /Candidate:\s*(\S+)/.exec(stdout)?.[1];
    return candidate !== undefined && candidate !== '(none)';
  };
  if (await policy()) return true;
  // Without package lists apt says "no" to everything: ask again after one update.
  if (listsFresh()) return false;
  await aptUpdate().catch(() => undefined);
  return policy();
}

function hasPackageLists(): boolean {
  try {
    return readdirSync('/var/lib/apt/lists').some((file) => file.endsWith('_Packages') || file.includes('_Packages.'));
  } catch {
    return false;
  }
}

/** Versions and machine facts recorded with every result. */
export interface Environment {
  date: string;
  node: string;
  nodeOpenssl: string;
  undici: string;
  nginx: string;
  wrk: string;
  openssl: string;
  kernel: string;
  cpuModel: string;
  cpuCount: number;
  loadAverage1m: number;
  gitCommit: string;
  /** Files under src/ that differ from the commit: the measured code is not exactly the commit. */
  gitDirtySrcFiles: number;
}

async function output(file: string, args: string[]): Promise<string> {
  // wrk -v exits 1 and nginx -v prints to stderr: take whatever text came out.
  const result = await exec(file, args).catch((error: { stdout?: string; stderr?: string }) => ({ stdout: error.stdout ?? '', stderr: error.stderr ?? '' }));
  return `${result.stdout}${result.stderr}`.trim();
}

/** Collects versions and machine facts for the results (see Environment). */
export async function describeEnvironment(tools: ToolPaths, nodeBin: string, repoRoot: string): Promise<Environment> {
  const undiciPackage = JSON.parse(await readFile(`${repoRoot}/node_modules/undici/package.json`, 'utf8')) as { version?: unknown };
  const nodeVersions = await output(nodeBin, ['-p', 'process.version + " " + process.versions.openssl']);
  const [node = '', nodeOpenssl = ''] = nodeVersions.split(' ');
  const status = await output('git', ['-C', repoRoot, 'status', '--porcelain', '--', 'src']);
  return {
    date: new Date().toISOString(),
    node,
    nodeOpenssl,
    undici: String(undiciPackage.version),
    nginx: (await output(tools.nginx, ['-v'])).replace(/^nginx version:\s*/, ''),
    wrk: (await output(tools.wrk, ['-v'])).split('\n')[0]?.replace(/\s+Copyright.*$/, '') ?? '',
    openssl: await output(tools.openssl, ['version']),
    kernel: release(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cpuCount: cpus().length,
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    gitCommit: await output('git', ['-C', repoRoot, 'rev-parse', '--short=12', 'HEAD']),
    gitDirtySrcFiles: status === '' ? 0 : status.split('\n').length,
  };
}
