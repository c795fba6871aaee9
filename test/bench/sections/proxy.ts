/**
 * Section "proxy": Gatehouse's request path (public route, no authentication) against
 * peers in the same run — the upstream directly (ceiling), nginx as a reverse proxy, and
 * the minimal node:http + undici proxy (Node's floor). Every proxy terminates TLS with
 * the same certificate; clients keep their connections alive.
 *
 * Every target is started and checked to answer 200 "ok" (and which TLS it negotiated);
 * then `--rounds` rounds each run every target in turn with wrk at each concurrency
 * (closed loop; warm-up before a target's first run), so that ratios can be taken between
 * runs seconds apart; then the open-loop client at each fixed rate, target by target. A
 * target that fails is reported with its reason; the others still run.
 */
import type { BenchContext, Section, SectionResult } from '../lib/section.ts';
import type { RunningServer } from '../lib/nginx.ts';
import { startNginxProxy, startUpstream } from '../lib/nginx.ts';
import { startMinimalProxy } from '../lib/minimal-node.ts';
import { gatehouseUnavailableReason, startGatehouse } from '../lib/gatehouse.ts';
import { probe } from '../lib/net.ts';
import { runWrk } from '../lib/wrk.ts';
import { runOpenLoop } from '../lib/open-loop.ts';
import { startCpuMeter, waitForQuiet, type CpuReport } from '../lib/cpu.ts';
import { pinNamedThreads } from '../lib/threads.ts';
import { computeRatios, renderProxySection, type ClosedLoopEntry, type TargetId, type TargetResult } from './proxy-report.ts';

interface TargetSpec {
  id: TargetId;
  label: string;
  /** Why it cannot run at all (checked before starting anything). */
  unavailable?: () => Promise<string | undefined>;
  /** Starts the proxy; `undefined` for the upstream itself (nothing to start). */
  start?: (upstreamUrl: string) => Promise<RunningServer>;
  /** Threads of the proxy (by name) moved to the load core before each measured run; the rest stays on the proxy core. */
  onLoadCore?: string[];
}

/** Every component that adds work to a public route, off: what is left is the gateway itself. */
const BARE = {
  audit: { enabled: false },
  detect: { enabled: false },
  ratelimit: { edge: { enabled: false }, identity: { enabled: false } },
  identity: { enabled: false },
  pki: { enabled: false },
};

/** The audit commit thread's name (COMMIT_THREAD_NAME); an older tree under test has none, and nothing is moved. */
const AUDIT_COMMIT_THREAD = 'audit-commit';

/** Applies the target's `onLoadCore` (threads start lazily: called before every measured run). */
function pinThreads(ctx: BenchContext, t: Running): void {
  if (!t.spec.onLoadCore || t.pids.proxy === undefined || ctx.cpus.load === undefined) return;
  const load = ctx.cpus.load;
  pinNamedThreads(t.pids.proxy, new Map(t.spec.onLoadCore.map((name) => [name, load])));
}

function targets(ctx: BenchContext): TargetSpec[] {
  return [
    { id: 'direct', label: 'direct (wrk → nginx upstream, plain HTTP)' },
    { id: 'nginx', label: 'nginx reverse proxy (TLS)', start: (upstream) => startNginxProxy(ctx, upstream) },
    { id: 'minimal-node', label: 'minimal node:https + undici proxy (TLS)', start: (upstream) => startMinimalProxy(ctx, upstream) },
    {
      // Its audit commit thread (src/audit/commit-thread.ts) on the other core, as on a machine
      // with a core to spare; the one-core target below keeps it with the rest of the process.
      id: 'gatehouse',
      label: 'Gatehouse, public route, its audit commit thread on the load core (TLS)',
      unavailable: () => gatehouseUnavailableReason(ctx),
      start: (upstream) => startGatehouse(ctx, { upstreamUrl: upstream }),
      onLoadCore: [AUDIT_COMMIT_THREAD],
    },
    {
      id: 'gatehouse-audit-one-core',
      label: 'Gatehouse, public route, every thread on the proxy core, the audit commit thread too (TLS)',
      unavailable: () => gatehouseUnavailableReason(ctx),
      start: (upstream) => startGatehouse(ctx, { upstreamUrl: upstream, name: 'gatehouse-audit-one-core' }),
    },
    {
      // The audit log on, the route's allowed (2xx/3xx) access events kept 1 in 100 and the rest
      // counted (audit.sampling); denials, errors and security events are all still recorded.
      id: 'gatehouse-audit-sampled',
      label: 'Gatehouse, public route, audit log on with the route\'s allowed access events sampled 1 in 100 (TLS)',
      unavailable: () => gatehouseUnavailableReason(ctx),
      start: (upstream) => startGatehouse(ctx, { upstreamUrl: upstream, name: 'gatehouse-audit-sampled', config: { audit: { sampling: { routes: { bench: 0.01 } } } } }),
      onLoadCore: [AUDIT_COMMIT_THREAD],
    },
    {
      id: 'gatehouse-no-audit',
      label: 'Gatehouse, public route, audit log off (TLS)',
      unavailable: () => gatehouseUnavailableReason(ctx),
      start: (upstream) => startGatehouse(ctx, { upstreamUrl: upstream, name: 'gatehouse-no-audit', config: { audit: { enabled: false } } }),
    },
    {
      id: 'gatehouse-bare',
      label: 'Gatehouse, public route, bare path: no audit, detection, rate limits, identity provider or CA (TLS)',
      unavailable: () => gatehouseUnavailableReason(ctx),
      start: (upstream) => startGatehouse(ctx, { upstreamUrl: upstream, name: 'gatehouse-bare', config: BARE }),
    },
  ];
}

async function measureClosedLoop(ctx: BenchContext, url: string, round: number, connections: number, pids: Pids): Promise<ClosedLoopEntry> {
  const meter = startCpuMeter(pids.proxy, [pids.upstream]);
  const wrk = await runWrk(ctx, { url, connections, durationS: ctx.options.durationS });
  const cpu = meter.stop();
  return { round, connections, wrk, cpu, limitedBy: limitedBy(ctx, cpu) };
}

/**
 * Which side ran out of CPU in a closed-loop run: the proxy (what we want to measure), or
 * the load core (wrk + upstream + whatever else ran there), which makes the figure a lower
 * bound of the proxy's capacity.
 */
function limitedBy(ctx: BenchContext, cpu: CpuReport): ClosedLoopEntry['limitedBy'] {
  if (cpu.proxyProcessPercent !== null && cpu.proxyProcessPercent >= 90) return 'proxy';
  const loadBusy = ctx.cpus.load === undefined ? undefined : cpu.busyPercentPerCpu[ctx.cpus.load];
  if (loadBusy !== undefined && loadBusy >= 95) return 'load core';
  return 'unclear';
}

/** Process groups whose CPU time is accounted to the benchmark. */
interface Pids {
  proxy: number | undefined;
  upstream: number;
}

/** A target that is up and answering, with where its measurements go. */
interface Running {
  spec: TargetSpec;
  result: TargetResult;
  server: RunningServer | undefined;
  url: string;
  pids: Pids;
}

/** Starts a target and checks that it answers 200 "ok"; undefined when it is not available (reason in `result`). */
async function startTarget(ctx: BenchContext, spec: TargetSpec, upstream: RunningServer, result: TargetResult): Promise<Running | undefined> {
  const reason = await spec.unavailable?.();
  if (reason !== undefined) {
    result.reason = reason;
    ctx.log(`${spec.id}: not available (${reason})`);
    return undefined;
  }
  let server: RunningServer | undefined;
  try {
    ctx.log(`${spec.id}: starting`);
    server = spec.start ? await spec.start(upstream.url) : undefined;
    const url = `${server?.url ?? upstream.url}/`;
    const answer = await probe(url, (await ctx.cert()).pem);
    if (answer.status !== 200 || answer.body !== 'ok') throw new Error(`preflight GET / answered ${answer.status} ${JSON.stringify(answer.body.slice(0, 200))}, expected 200 "ok"`);
    if (answer.tls) result.tls = answer.tls;
    result.available = true;
    return { spec, result, server, url, pids: { proxy: server?.process.pid, upstream: upstream.process.pid } };
  } catch (error) {
    result.reason = message(error);
    ctx.log(`${spec.id}: failed: ${result.reason}`);
    await server?.stop();
    return undefined;
  }
}

/** One round of closed-loop runs of one target (warm-up first in round 1: JIT, connection pools). */
async function closedLoopRound(ctx: BenchContext, t: Running, round: number): Promise<void> {
  const { spec, result } = t;
  if (ctx.options.quietWaitS > 0) {
    const quiet = await waitForQuiet([t.pids.upstream, ...(t.pids.proxy === undefined ? [] : [t.pids.proxy])], ctx.options.quietWaitS);
    if (round === 1 || !quiet.quiet) result.quietCheck = quiet;
    ctx.log(`${spec.id}: machine ${quiet.quiet ? 'quiet' : 'still busy'} after ${quiet.waitedS}s (others at ${quiet.otherProcessesPercent} % of a core)`);
  }
  if (round === 1) {
    ctx.log(`${spec.id}: warm-up ${ctx.options.warmupS}s`);
    await runWrk(ctx, { url: t.url, connections: 100, durationS: ctx.options.warmupS });
  }
  for (const connections of ctx.options.connections) {
    ctx.log(`${spec.id}: round ${round}, wrk ${connections} connections, ${ctx.options.durationS}s`);
    pinThreads(ctx, t);
    try {
      result.closedLoop.push(await measureClosedLoop(ctx, t.url, round, connections, t.pids));
    } catch (error) {
      result.failures.push(`round ${round}, wrk at ${connections} connections: ${message(error)}`);
      ctx.log(`${spec.id}: round ${round}, wrk at ${connections} connections failed: ${message(error)}`);
    }
  }
}

async function fixedRateRuns(ctx: BenchContext, t: Running): Promise<void> {
  const cert = await ctx.cert();
  for (const rate of ctx.options.rates) {
    ctx.log(`${t.spec.id}: fixed rate ${rate} req/s, ${ctx.options.rateDurationS}s`);
    pinThreads(ctx, t);
    try {
      const meter = startCpuMeter(t.pids.proxy, [t.pids.upstream]);
      const fixedRate = await runOpenLoop(ctx, {
        url: t.url, rate, durationS: ctx.options.rateDurationS, warmupS: Math.min(2, ctx.options.warmupS),
        connections: 100, ...(t.url.startsWith('https:') ? { caFile: cert.certFile } : {}),
      });
      t.result.fixedRates.push({ ...fixedRate, cpu: meter.stop() });
    } catch (error) {
      t.result.failures.push(`fixed rate ${rate}: ${message(error)}`);
      ctx.log(`${t.spec.id}: fixed rate ${rate} failed: ${message(error)}`);
    }
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The `proxy` section, registered in run.ts. */
export const proxySection: Section = {
  name: 'proxy',
  description: 'request path: direct upstream vs nginx vs minimal Node proxy vs Gatehouse (defaults, all on one core, audit sampled, audit off, bare) (TLS, wrk + fixed rate)',
  async run(ctx: BenchContext): Promise<SectionResult> {
    const upstream = await startUpstream(ctx);
    const selected = targets(ctx).filter((spec) => ctx.options.targets === undefined || ctx.options.targets.includes(spec.id));
    const results: TargetResult[] = selected.map((spec) => ({ id: spec.id, label: spec.label, available: false, closedLoop: [], fixedRates: [], failures: [] }));
    const running: Running[] = [];
    try {
      // Every target up at once (idle ones cost nothing measurable), then rounds that run
      // each in turn: a slow minute of the shared VM lands on all of them, not on one.
      for (const [i, spec] of selected.entries()) {
        const t = await startTarget(ctx, spec, upstream, results[i]!);
        if (t) running.push(t);
      }
      // Every other round runs the targets in reverse: in a fixed order a target always ran right
      // after the same neighbour and at the same point of the round, and back-to-back A/B runs
      // (bare-ab.ts) measured whichever target ran second as faster, in both orders.
      for (let round = 1; round <= ctx.options.rounds; round++) {
        for (const t of round % 2 === 1 ? running : [...running].reverse()) await closedLoopRound(ctx, t, round);
      }
      for (const t of running) await fixedRateRuns(ctx, t);
    } finally {
      for (const t of running) await t.server?.stop();
      await upstream.stop();
    }
    const settings = {
      durationS: ctx.options.durationS,
      rounds: ctx.options.rounds,
      warmupS: ctx.options.warmupS,
      connections: ctx.options.connections,
      fixedRate: { rates: ctx.options.rates, durationS: ctx.options.rateDurationS, warmupS: Math.min(2, ctx.options.warmupS), connections: 100 },
      cpuLayout: ctx.cpus.description,
      priority: ctx.options.nice === 0 ? 'default niceness' : `every benchmark process at niceness ${ctx.options.nice}`,
      gatehouseCode: ctx.options.gatehouseTree === 'head' ? `git archive ${ctx.options.gatehouseRef}` : 'work tree, uncommitted changes included',
      wrkThreads: ctx.cpus.load === undefined ? 'one per CPU' : 1,
      tls: 'one self-signed ECDSA P-256 certificate for every proxy; keep-alive connections',
      requestLogging: 'off for nginx and Gatehouse; the minimal proxy has none',
    };
    const ratios = computeRatios(results);
    return { markdown: renderProxySection(results, ratios, settings), data: { settings, targets: results, ratios } };
  },
};
