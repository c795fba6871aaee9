/**
 * Section "proxy": Gatehouse's request path (public route, no authentication) against
 * peers in the same run — the upstream directly (ceiling), nginx as a reverse proxy, and
 * the minimal node:http + undici proxy (Node's floor). Every proxy terminates TLS with
 * the same certificate; clients keep their connections alive.
 *
 * For each target, one at a time: start it, check it answers 200 "ok" (and which TLS it
 * negotiated), warm up, wrk at each concurrency (closed loop), then the open-loop client
 * at a fixed rate, then stop it. A target that fails is reported with its reason; the
 * others still run.
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
import { computeRatios, renderProxySection, type ClosedLoopEntry, type TargetId, type TargetResult } from './proxy-report.ts';

interface TargetSpec {
  id: TargetId;
  label: string;
  /** Why it cannot run at all (checked before starting anything). */
  unavailable?: () => Promise<string | undefined>;
  /** Starts the proxy; `undefined` for the upstream itself (nothing to start). */
  start?: (upstreamUrl: string) => Promise<RunningServer>;
}

/** Every component that adds work to a public route, off: what is left is the gateway itself. */
const BARE = {
  audit: { enabled: false },
  detect: { enabled: false },
  ratelimit: { edge: { enabled: false }, identity: { enabled: false } },
  identity: { enabled: false },
  pki: { enabled: false },
};

function targets(ctx: BenchContext): TargetSpec[] {
  return [
    { id: 'direct', label: 'direct (wrk → nginx upstream, plain HTTP)' },
    { id: 'nginx', label: 'nginx reverse proxy (TLS)', start: (upstream) => startNginxProxy(ctx, upstream) },
    { id: 'minimal-node', label: 'minimal node:https + undici proxy (TLS)', start: (upstream) => startMinimalProxy(ctx, upstream) },
    {
      id: 'gatehouse',
      label: 'Gatehouse, public route (TLS)',
      unavailable: () => gatehouseUnavailableReason(ctx),
      start: (upstream) => startGatehouse(ctx, { upstreamUrl: upstream }),
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

async function measureClosedLoop(ctx: BenchContext, url: string, connections: number, pids: Pids): Promise<ClosedLoopEntry> {
  const meter = startCpuMeter(pids.proxy, [pids.upstream]);
  const wrk = await runWrk(ctx, { url, connections, durationS: ctx.options.durationS });
  const cpu = meter.stop();
  return { connections, wrk, cpu, limitedBy: limitedBy(ctx, cpu) };
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

async function measureTarget(ctx: BenchContext, spec: TargetSpec, upstream: RunningServer): Promise<TargetResult> {
  const upstreamUrl = upstream.url;
  const result: TargetResult = { id: spec.id, label: spec.label, available: false, closedLoop: [], fixedRates: [], failures: [] };
  const reason = await spec.unavailable?.();
  if (reason !== undefined) {
    result.reason = reason;
    ctx.log(`${spec.id}: not available (${reason})`);
    return result;
  }
  let server: RunningServer | undefined;
  try {
    ctx.log(`${spec.id}: starting`);
    server = spec.start ? await spec.start(upstreamUrl) : undefined;
    const url = `${server?.url ?? upstreamUrl}/`;
    const cert = await ctx.cert();
    const answer = await probe(url, cert.pem);
    if (answer.status !== 200 || answer.body !== 'ok') throw new Error(`preflight GET / answered ${answer.status} ${JSON.stringify(answer.body.slice(0, 200))}, expected 200 "ok"`);
    if (answer.tls) result.tls = answer.tls;
    result.available = true;
    const pids: Pids = { proxy: server?.process.pid, upstream: upstream.process.pid };
    if (ctx.options.quietWaitS > 0) {
      result.quietCheck = await waitForQuiet([pids.upstream, ...(pids.proxy === undefined ? [] : [pids.proxy])], ctx.options.quietWaitS);
      ctx.log(`${spec.id}: machine ${result.quietCheck.quiet ? 'quiet' : 'still busy'} after ${result.quietCheck.waitedS}s (others at ${result.quietCheck.otherProcessesPercent} % of a core)`);
    }
    ctx.log(`${spec.id}: warm-up ${ctx.options.warmupS}s`);
    await runWrk(ctx, { url, connections: 100, durationS: ctx.options.warmupS });
    for (const connections of ctx.options.connections) {
      ctx.log(`${spec.id}: wrk ${connections} connections, ${ctx.options.durationS}s`);
      try {
        result.closedLoop.push(await measureClosedLoop(ctx, url, connections, pids));
      } catch (error) {
        result.failures.push(`wrk at ${connections} connections: ${message(error)}`);
        ctx.log(`${spec.id}: wrk at ${connections} connections failed: ${message(error)}`);
      }
    }
    for (const rate of ctx.options.rates) {
      ctx.log(`${spec.id}: fixed rate ${rate} req/s, ${ctx.options.rateDurationS}s`);
      try {
        const meter = startCpuMeter(pids.proxy, [pids.upstream]);
        const fixedRate = await runOpenLoop(ctx, {
          url, rate, durationS: ctx.options.rateDurationS, warmupS: Math.min(2, ctx.options.warmupS),
          connections: 100, ...(url.startsWith('https:') ? { caFile: cert.certFile } : {}),
        });
        result.fixedRates.push({ ...fixedRate, cpu: meter.stop() });
      } catch (error) {
        result.failures.push(`fixed rate ${rate}: ${message(error)}`);
        ctx.log(`${spec.id}: fixed rate ${rate} failed: ${message(error)}`);
      }
    }
  } catch (error) {
    result.available = false;
    result.reason = message(error);
    ctx.log(`${spec.id}: failed: ${result.reason}`);
  } finally {
    await server?.stop();
  }
  return result;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The `proxy` section, registered in run.ts. */
export const proxySection: Section = {
  name: 'proxy',
  description: 'request path: direct upstream vs nginx vs minimal Node proxy vs Gatehouse (defaults, audit off, bare) (TLS, wrk + fixed rate)',
  async run(ctx: BenchContext): Promise<SectionResult> {
    const upstream = await startUpstream(ctx);
    const results: TargetResult[] = [];
    try {
      const selected = targets(ctx).filter((spec) => ctx.options.targets === undefined || ctx.options.targets.includes(spec.id));
      for (const spec of selected) results.push(await measureTarget(ctx, spec, upstream));
    } finally {
      await upstream.stop();
    }
    const settings = {
      durationS: ctx.options.durationS,
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
