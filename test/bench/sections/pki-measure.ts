/**
 * Part of the pki section: the measured runs against a running Gatehouse (and nginx as
 * the peer), each with the CPU of every side recorded over the measured window only.
 */
import { fileURLToPath } from 'node:url';
import type { BenchContext } from '../lib/section.ts';
import { startCpuMeter, type CpuReport } from '../lib/cpu.ts';
import { runWrk } from '../lib/wrk.ts';
import { LOAD_MARKER, WINDOW_END, WINDOW_START, type HandshakeLoadOptions, type IssueLoadOptions, type LoadResult } from './pki-load.ts';
import type { HandshakeFigure, HttpIssueFigure, MtlsFigure } from './pki-report.ts';

const LOAD_CLIENT = fileURLToPath(new URL('./pki-load.ts', import.meta.url));

/** Process groups to account: the server under test, and the benchmark's other long-running processes. */
export interface Accounting { server: number; others: number[] }

/**
 * Runs a child that announces its measured windows (`WINDOW_START <i>` / `WINDOW_END <i>` on
 * stdout) and measures CPU over each window alone, so warm-ups and start-up are left out.
 * `accounting` names the process group under test and the benchmark's other processes, given
 * the child's pid (the child's own CPU counts as the benchmark's, never as "others").
 */
export async function runWindowed(ctx: BenchContext, name: string, args: string[], cpu: number | undefined, accounting: (childPid: number, window: number) => Accounting): Promise<{ code: number | string; output: string; cpus: Map<number, CpuReport> }> {
  const child = ctx.processes.start(name, ctx.nodeBin, args, { cpu, cwd: ctx.repoRoot });
  const meters = new Map<number, ReturnType<typeof startCpuMeter>>();
  const cpus = new Map<number, CpuReport>();
  let pending = '';
  child.child.stdout?.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const [marker, index] = line.split(' ');
      if (marker === WINDOW_START) {
        const pids = accounting(child.pid, Number(index));
        meters.set(Number(index), startCpuMeter(pids.server, pids.others));
      }
      else if (marker === WINDOW_END) {
        const meter = meters.get(Number(index));
        // A run that ended in its warm-up (every token used) has no window and no CPU figure.
        if (meter) cpus.set(Number(index), meter.stop());
      }
    }
  });
  const code = await child.exited;
  return { code, output: child.output(), cpus };
}

/** What a run without a measured window reports. */
export const NO_CPU: CpuReport = { proxyProcessPercent: null, otherProcessesPercent: 0, busyPercentPerCpu: [] };

/** Runs the load client on the load CPU, every run of `options` one after another; `pids` per run. */
export async function runLoad(ctx: BenchContext, options: HandshakeLoadOptions | IssueLoadOptions, pids: (run: number) => Accounting): Promise<Array<{ load: LoadResult; cpu: CpuReport }>> {
  const { code, output, cpus } = await runWindowed(ctx, 'pki-load', [LOAD_CLIENT, JSON.stringify(options)], ctx.cpus.load, (child, run) => {
    const { server, others } = pids(run);
    return { server, others: [...others, child] };
  });
  const line = output.split('\n').find((l) => l.startsWith(LOAD_MARKER));
  if (code !== 0 || !line) throw new Error(`pki load client failed (${code}):\n${output.slice(0, 2000)}`);
  const results = JSON.parse(line.slice(LOAD_MARKER.length)) as LoadResult[];
  return results.map((load, index) => ({ load, cpu: cpus.get(index) ?? NO_CPU }));
}

export interface HttpIssueRun { concurrency: number; tokensFile: string }

/** Issuance through `<apiPath>/issue`, one run per concurrency, each with its own tokens. */
export async function measureHttpIssue(ctx: BenchContext, base: Omit<IssueLoadOptions, 'kind' | 'runs'>, runs: HttpIssueRun[], pids: Accounting): Promise<HttpIssueFigure[]> {
  const quick = ctx.options.quick;
  ctx.log(`pki: issuance over HTTP, concurrency ${runs.map((r) => r.concurrency).join(' and ')}`);
  const results = await runLoad(ctx, {
    kind: 'issue', ...base, runs: runs.map((r) => ({ ...r, warmupS: quick ? 0.3 : 1, durationS: quick ? 1 : 3 })),
  }, () => pids);
  return results.map((r, i) => ({ concurrency: runs[i]!.concurrency, ...r }));
}

export interface HandshakeTarget {
  id: HandshakeFigure['target'];
  port: number;
  accounting: Accounting;
}

/**
 * New connection per request, full and resumed, at concurrency 1 (latency) and 16
 * (capacity). The targets alternate run by run (one client process for all), so that a
 * disturbance of the shared machine does not fall on one target's runs only.
 */
export async function measureHandshakes(ctx: BenchContext, targets: HandshakeTarget[], caFile: string): Promise<HandshakeFigure[]> {
  const quick = ctx.options.quick;
  const runs = [false, true].flatMap((resumption) => [1, 16].flatMap((concurrency) => targets.map((target) => ({
    target, resumption, concurrency, warmupS: quick ? 0.2 : 0.5, durationS: quick ? 1 : concurrency === 1 ? 1.5 : 2,
  }))));
  ctx.log(`pki: handshakes at ${targets.map((t) => t.id).join(' and ')}, alternating: full and resumed, concurrency 1 and 16`);
  const results = await runLoad(ctx, {
    kind: 'handshakes', host: '127.0.0.1', servername: 'localhost', caFile, path: '/',
    runs: runs.map(({ target, ...shape }) => ({ ...shape, port: target.port })),
  }, (index) => runs[index]!.target.accounting);
  return results.map((r, i) => ({ target: runs[i]!.target.id, resumption: runs[i]!.resumption, concurrency: runs[i]!.concurrency, ...r }));
}

/**
 * wrk at 100 keep-alive connections, plain and mTLS routes alternately, three rounds. Each
 * measured run follows its own short warm-up on the same route: the upstream pool closes
 * connections idle for `keepAliveTimeoutMs` (4 s by default), so without it every mTLS run
 * would start with 100 new upstream handshakes, which part 2 measures, not this part.
 */
export async function measureMtls(ctx: BenchContext, gatehouseUrl: string, pids: Accounting): Promise<MtlsFigure[]> {
  const connections = 100;
  const routes = [
    { hop: 'plain HTTP' as const, url: `${gatehouseUrl}/` },
    { hop: 'mTLS' as const, url: `${gatehouseUrl}/mtls` },
  ];
  const durationS = Math.max(1, Math.round(ctx.options.durationS * 0.3));
  const warmupS = 1;
  const figures: MtlsFigure[] = [];
  for (let round = 1; round <= 3; round++) {
    for (const r of routes) {
      ctx.log(`pki: ${r.hop} upstream, ${connections} connections, ${warmupS} s warm-up + ${durationS} s (round ${round})`);
      await runWrk(ctx, { url: r.url, connections, durationS: warmupS });
      const meter = startCpuMeter(pids.server, pids.others);
      const wrk = await runWrk(ctx, { url: r.url, connections, durationS });
      figures.push({ hop: r.hop, round, connections, wrk, cpu: meter.stop() });
    }
  }
  return figures;
}
