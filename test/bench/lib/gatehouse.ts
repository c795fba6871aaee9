/**
 * Starts Gatehouse itself (`node src/cli/main.ts start --config <generated YAML>`) for a
 * section, or says why it cannot: until the CLI is committed, Gatehouse is "not available"
 * and the peers are still measured.
 *
 * By default the committed code is measured, not the work tree: HEAD (or `--gatehouse-ref`) is exported with
 * `git archive` into the run's temp directory (node_modules linked in), because several
 * people edit the work tree at once and a half-written file there says nothing about
 * Gatehouse's speed. `--gatehouse-tree worktree` measures the work tree instead.
 */
import { execFile } from 'node:child_process';
import { access, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { BenchContext } from './section.ts';
import type { RunningServer } from './nginx.ts';
import { freePort, waitForHttp } from './net.ts';

const exec = promisify(execFile);
const CLI = 'src/cli/main.ts';

/**
 * `undefined` when the measured revision has the CLI; otherwise the reason Gatehouse is not
 * available. Pass the context (it knows `--gatehouse-tree`/`--gatehouse-ref`); a bare
 * repository root is still accepted and checks HEAD.
 */
export async function gatehouseUnavailableReason(ctxOrRepoRoot: BenchContext | string): Promise<string | undefined> {
  const ctx = typeof ctxOrRepoRoot === 'string' ? undefined : ctxOrRepoRoot;
  if (ctx?.options.gatehouseTree === 'worktree') return undefined;
  const repoRoot = ctx?.repoRoot ?? (ctxOrRepoRoot as string);
  const ref = ctx?.options.gatehouseRef ?? 'HEAD';
  try {
    await exec('git', ['-C', repoRoot, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  } catch {
    return `${ref} is not a commit in this repository`;
  }
  try {
    await exec('git', ['-C', repoRoot, 'cat-file', '-e', `${ref}:${CLI}`]);
    return undefined;
  } catch {
    return `${CLI} is not committed yet (at ${ref})`;
  }
}

const exported = new WeakMap<BenchContext, Promise<string>>();

/** The directory Gatehouse runs from: the repository (worktree) or an export of HEAD. */
export function gatehouseRoot(ctx: BenchContext): Promise<string> {
  if (ctx.options.gatehouseTree === 'worktree') return Promise.resolve(ctx.repoRoot);
  let root = exported.get(ctx);
  if (!root) {
    root = (async () => {
      const dir = join(ctx.tmpDir, 'gatehouse-head');
      await mkdir(dir, { recursive: true });
      const tar = join(ctx.tmpDir, 'gatehouse-head.tar');
      await exec('git', ['-C', ctx.repoRoot, 'archive', '--format=tar', '-o', tar, `${ctx.options.gatehouseRef}^{commit}`]);
      await exec('tar', ['-xf', tar, '-C', dir]);
      await symlink(join(ctx.repoRoot, 'node_modules'), join(dir, 'node_modules'));
      return dir;
    })();
    exported.set(ctx, root);
  }
  return root;
}

/** What a section can change about the Gatehouse it starts. */
export interface GatehouseOptions {
  /** Origin of the upstream that the catch-all `bench` route forwards to. */
  upstreamUrl: string;
  /** Name of the instance's directory under the run's temp directory. */
  name?: string;
  /**
   * Merged over the generated config (objects key by key; arrays replaced). Sections that
   * measure more of the pipeline (authentication, policy, …) add their routes here.
   */
  config?: Record<string, unknown>;
}

/** `over` merged into `base`: objects key by key, anything else (arrays too) replaced. */
export function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    const bothObjects = [current, value].every((v) => typeof v === 'object' && v !== null && !Array.isArray(v));
    out[key] = bothObjects ? merge(current as Record<string, unknown>, value as Record<string, unknown>) : value;
  }
  return out;
}

/**
 * Starts one Gatehouse on the proxy CPU with the bench certificate on its HTTPS listener,
 * the plain-HTTP listener off, and request logging off (nginx's access log is off too).
 * Resolves once `/healthz` on the ops listener answers; rejects with the log tail if it
 * exits or does not come up.
 */
export async function startGatehouse(ctx: BenchContext, options: GatehouseOptions): Promise<RunningServer> {
  const dir = join(ctx.tmpDir, options.name ?? 'gatehouse');
  await mkdir(dir, { recursive: true });
  const cert = await ctx.cert();
  const [httpsPort, opsPort] = [await freePort(), await freePort()];
  const base = {
    dataDir: join(dir, 'data'),
    listeners: {
      https: { host: '127.0.0.1', port: httpsPort, tls: { cert: cert.certFile, key: cert.keyFile } },
      http: { enabled: false },
      ops: { host: '127.0.0.1', port: opsPort },
    },
    logging: { level: 'warn', accessLog: false },
    upstreams: { bench: { url: options.upstreamUrl } },
    routes: [{ id: 'bench', path: '/', upstream: 'bench', access: 'public' }],
  };
  const root = await gatehouseRoot(ctx);
  // One client address sends everything here, so the default per-address and per-identity
  // limits (~100 req/s) would answer 429 to nearly every request. The limiters stay in the
  // path (their cost is measured) with limits far above any offered load. Older trees have
  // no `ratelimit` key, and the schema refuses unknown keys.
  const hasRateLimits = await access(join(root, 'src/core/config/ratelimit-schema.ts')).then(() => true, () => false);
  const unlimited = { rate: 1_000_000, periodMs: 1000, burst: 1_000_000 };
  if (hasRateLimits) Object.assign(base, { ratelimit: { edge: { ...unlimited }, identity: { ...unlimited } } });
  const configFile = join(dir, 'gatehouse.yaml');
  await writeFile(configFile, stringify(merge(base, options.config ?? {})));
  const logFile = join(dir, 'gatehouse.log');
  // A profile is written when the process exits normally (SIGTERM → graceful stop).
  const profile = ctx.options.profile ? ['--cpu-prof', '--cpu-prof-dir', join(ctx.repoRoot, 'test/bench/results/profiles')] : [];
  const process = ctx.processes.start('gatehouse', ctx.nodeBin, [...profile, CLI, 'start', '--config', configFile], {
    cpu: ctx.cpus.proxy,
    cwd: root,
    logFile,
  });
  try {
    await waitForHttp(`http://127.0.0.1:${opsPort}/healthz`, { timeoutMs: 30_000, exited: process.exited });
  } catch (error) {
    await ctx.processes.stop(process);
    const log = await readFile(logFile, 'utf8').catch(() => '');
    // The first line is what the report shows: make it the log's first error, if any.
    const cause = log.split('\n').find((line) => /error|refused|problem/i.test(line))?.trim().slice(0, 240);
    throw new Error(`Gatehouse did not start: ${error instanceof Error ? error.message : String(error)}${cause ? ` — ${cause}` : ''}\n${log.slice(-1500)}`);
  }
  return { url: `https://127.0.0.1:${httpsPort}`, process, stop: () => ctx.processes.stop(process) };
}
