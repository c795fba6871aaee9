/**
 * `npm run bench` — measures Gatehouse against peers in the same run and reports ratios.
 * Speed is measured here and only here; tests never assert timings. See BENCHMARKS.md for
 * the method, the choices (CPU pinning, fixed-rate method) and their limits.
 *
 *   npm run bench                       full run (~3 min), updates BENCHMARKS.md and results/latest.json
 *   npm run bench -- --quick            smoke run (~1 min), writes results/quick.json only
 *   npm run bench -- --only proxy       one section (comma-separated names for several)
 *   npm run bench -- --help             all options
 *
 * Adding a section (identity grants/s, policy decisions, audit appends, certificates, …):
 *   1. Create `sections/<name>.ts` exporting a `Section` (lib/section.ts): a kebab-case
 *      `name`, a one-line `description`, and `run(ctx)` returning `{ markdown, data }`.
 *   2. Start every process through `ctx.processes` (start/run/stop) so that it dies with
 *      the harness; pin what is measured to `ctx.cpus.proxy` and load generators to
 *      `ctx.cpus.load`. Reuse lib/: `startUpstream`, `startGatehouse` (with `config`
 *      overrides for routes that authenticate or authorize), `runWrk`, `runOpenLoop`,
 *      `ctx.cert()`, `table()`/`fixed()` for markdown. In-process measurements (e.g. policy
 *      decisions per second) may run in a child started with `ctx.nodeBin` on `ctx.cpus.proxy`.
 *   3. Add it to SECTIONS below, in the order it should run.
 *   4. Smoke-test with `npm run bench -- --only <name> --quick`. A full run writes its block
 *      into BENCHMARKS.md between `<!-- bench:<name>:start -->` and `<!-- bench:<name>:end -->`
 *      (appended when missing) and its `data` under its name in results/latest.json.
 *   Keep a section's default run short: the whole default run should stay under ~5 minutes.
 */
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext, BenchOptions, Section, SectionResult } from './lib/section.ts';
import { parseBenchArgs, usage } from './lib/args.ts';
import { ProcessRegistry, killChildrenOnExit } from './lib/processes.ts';
import { describeEnvironment, ensureTools, type Environment } from './lib/tools.ts';
import { chooseCpuLayout } from './lib/cpu.ts';
import { makeSelfSignedCert, type CertFiles } from './lib/cert.ts';
import { replaceBlock } from './lib/markdown.ts';
import { proxySection } from './sections/proxy.ts';
import { storeSection } from './sections/store.ts';
import { policySection } from './sections/policy.ts';
import { identitySection } from './sections/identity.ts';
import { pkiSection } from './sections/pki.ts';
import { auditSection } from './sections/audit.ts';

/** Every section, in the order they run. */
const SECTIONS: Section[] = [proxySection, storeSection, policySection, identitySection, pkiSection, auditSection];

const repoRoot = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const log = (message: string): void => void process.stderr.write(`[bench] ${message}\n`);

function pinnedNode(): string {
  const local = join(repoRoot, 'node_modules/.bin/node');
  return existsSync(local) ? realpathSync(local) : process.execPath;
}

function environmentLine(env: Environment, command: string, options: BenchOptions): string {
  const code = options.gatehouseTree === 'worktree'
    ? `Gatehouse from the work tree at \`${env.gitCommit}\`${env.gitDirtySrcFiles ? ` + ${env.gitDirtySrcFiles} uncommitted files under src/` : ''}`
    : options.gatehouseRef === 'HEAD'
      ? `Gatehouse as committed at \`${env.gitCommit}\``
      : `Gatehouse as committed at \`${options.gatehouseRef}\` (HEAD is \`${env.gitCommit}\`)`;
  return [
    `Measured ${env.date}: ${code}, with \`${command}\`.`,
    `Node ${env.node} (OpenSSL ${env.nodeOpenssl}), undici ${env.undici}, ${env.nginx}, ${env.wrk}, ${env.openssl}; Linux ${env.kernel}; ${env.cpuCount} × ${env.cpuModel}; load average at start ${env.loadAverage1m}.`,
  ].join('\n');
}

async function main(): Promise<number> {
  const parsed = parseBenchArgs(process.argv.slice(2), SECTIONS.map((s) => s.name));
  if (parsed.help) {
    process.stdout.write(usage(SECTIONS));
    return 0;
  }
  const { options, only, write, keepTmp, argv } = parsed;
  const command = ['npm run bench', ...(argv.length ? ['--', ...argv] : [])].join(' ');
  const tools = await ensureTools(log);
  const processes = new ProcessRegistry({ taskset: tools.taskset, nice: options.nice });
  const tmpDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  killChildrenOnExit(processes, (signal) => log(`${signal}: stopped every child process`));
  // Registered after the kill handler, so it runs after it: on any exit, the temp dir goes too.
  process.on('exit', () => { if (!keepTmp) rmSync(tmpDir, { recursive: true, force: true }); });
  let cert: Promise<CertFiles> | undefined;
  const ctx: BenchContext = {
    options, repoRoot, tmpDir, nodeBin: pinnedNode(), tools, processes,
    cpus: chooseCpuLayout(options.pin, tools.taskset !== undefined),
    cert: () => (cert ??= makeSelfSignedCert(tools.openssl, tmpDir)),
    log,
  };
  const env = await describeEnvironment(tools, ctx.nodeBin, repoRoot);
  log(`${ctx.cpus.description}; wrk2 in Debian: ${tools.wrk2Available ? 'yes' : 'no'}`);
  const selected = SECTIONS.filter((s) => only === undefined || only.includes(s.name));
  const results = new Map<string, SectionResult & { failed: boolean; seconds: number }>();
  const runStarted = Date.now();
  try {
    for (const section of selected) {
      log(`section ${section.name}`);
      const started = Date.now();
      const seconds = (): number => Math.round((Date.now() - started) / 1000);
      try {
        results.set(section.name, { ...(await section.run(ctx)), failed: false, seconds: seconds() });
      } catch (error) {
        const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
        log(`section ${section.name} failed: ${text}`);
        results.set(section.name, { markdown: `**Section failed**: ${text.split('\n')[0]}`, data: { error: text }, failed: true, seconds: seconds() });
      }
      // Sections share the default run's time budget (~5 min): show what each one costs.
      log(`section ${section.name} took ${results.get(section.name)?.seconds} s`);
    }
  } finally {
    await processes.stopAll();
    if (keepTmp) log(`kept ${tmpDir}`);
  }
  log(`all sections took ${Math.round((Date.now() - runStarted) / 1000)} s`);

  const header = environmentLine(env, command, options);
  const blocks = [...results].map(([name, result]) => `### ${name}\n\n${header}\n\n${result.markdown}`);
  process.stdout.write(`\n${blocks.join('\n\n')}\n`);

  if (write) {
    const jsonFile = join(repoRoot, 'test/bench/results', options.quick ? 'quick.json' : 'latest.json');
    const previous = await readFile(jsonFile, 'utf8').then((text) => JSON.parse(text) as { sections?: Record<string, unknown> }, () => ({ sections: {} }));
    const sections: Record<string, unknown> = { ...previous.sections };
    for (const [name, result] of results) sections[name] = { command, environment: env, wrk2Available: tools.wrk2Available, failed: result.failed, seconds: result.seconds, data: result.data };
    await writeFile(jsonFile, `${JSON.stringify({ sections }, null, 2)}\n`);
    log(`wrote ${jsonFile}`);
    if (!options.quick) {
      const docFile = join(repoRoot, 'BENCHMARKS.md');
      let document = await readFile(docFile, 'utf8').catch(() => '# Benchmarks\n');
      for (const [name, result] of results) document = replaceBlock(document, name, `### ${name}\n\n${header}\n\n${result.markdown}`);
      await writeFile(docFile, document);
      log(`updated ${docFile}`);
    }
  }
  return [...results.values()].some((r) => r.failed) ? 1 : 0;
}

main().then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
