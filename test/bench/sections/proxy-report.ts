/**
 * Result types of the "proxy" section, the ratios between its targets, and their markdown.
 */
import type { WrkResult } from '../lib/wrk.ts';
import type { OpenLoopResult } from '../lib/open-loop.ts';
import type { CpuReport, QuietCheck } from '../lib/cpu.ts';
import { table, fixed } from '../lib/markdown.ts';

/** The targets of the proxy section. */
export type TargetId = 'direct' | 'nginx' | 'minimal-node' | 'gatehouse' | 'gatehouse-audit-one-core' | 'gatehouse-audit-sampled' | 'gatehouse-no-audit' | 'gatehouse-bare';

/** One wrk run against one target, with where the CPU went. */
export interface ClosedLoopEntry {
  /** 1-based: every round runs each target once, in turn, so that a disturbance of the shared machine spreads over all of them. */
  round: number;
  connections: number;
  wrk: WrkResult;
  cpu: CpuReport;
  /**
   * `proxy`: the proxy used ≥ 90 % of its core (the figure is its capacity); `load core`:
   * the core of wrk and the upstream was full first (the figure is a lower bound);
   * `unclear`: neither (other processes took the difference).
   */
  limitedBy: 'proxy' | 'load core' | 'unclear';
}

/** Everything measured for one target, or why it was not. */
export interface TargetResult {
  id: TargetId;
  label: string;
  available: boolean;
  /** Why the target was not measured. */
  reason?: string;
  tls?: { protocol: string; cipher: string };
  /** Whether the machine was quiet before this target was measured (absent: not checked). */
  quietCheck?: QuietCheck;
  closedLoop: ClosedLoopEntry[];
  /** One open-loop run per configured rate. */
  fixedRates: Array<OpenLoopResult & { cpu: CpuReport }>;
  /** Runs that failed while the target was up. */
  failures: string[];
}

/**
 * One target's figure divided by another's: req/s (higher is better) and p99 (lower is better).
 * Closed-loop ratios are taken round by round (runs minutes apart on a shared VM differ by
 * ±15 %; runs of the same round, seconds apart, much less) and the median is reported.
 */
export interface Ratio {
  subject: TargetId;
  peer: TargetId;
  /** By connection count: the median of the per-round ratios. */
  requestsPerSecond: Record<string, number | null>;
  p99: Record<string, number | null>;
  /** By connection count: the req/s ratio of every round that measured both, in round order. */
  requestsPerSecondByRound: Record<string, number[]>;
  /** By request rate. */
  fixedRateP99: Record<string, number | null>;
}

/**
 * The comparisons reported: Gatehouse (defaults) against each peer; the bare gateway (no
 * component composed: issue 2's "bare path") against Node's floor; and Gatehouse with its
 * audit log against the same without (issue 6's "audit on against off": with the audit commit
 * thread on the other core, and with every thread on one core), and with the allowed access
 * events of its route sampled (what an operator can trade for that cost).
 */
const PAIRS: Array<[subject: TargetId, peer: TargetId]> = [
  ['gatehouse', 'direct'], ['gatehouse', 'minimal-node'], ['gatehouse', 'nginx'],
  ['gatehouse-bare', 'minimal-node'], ['gatehouse', 'gatehouse-no-audit'], ['gatehouse-audit-one-core', 'gatehouse-no-audit'],
  ['gatehouse-audit-sampled', 'gatehouse-no-audit'],
];

function divide(a: number | undefined, b: number | undefined): number | null {
  if (a === undefined || b === undefined || b === 0) return null;
  return Math.round((a / b) * 1000) / 1000;
}

/** The middle value (the mean of the two middle ones for an even count); undefined for none. */
export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Per-round ratios of one figure for one connection count, in round order. */
function roundRatios(subject: TargetResult, peer: TargetResult, connections: number, figure: (e: ClosedLoopEntry) => number): number[] {
  const out: number[] = [];
  for (const entry of subject.closedLoop) {
    if (entry.connections !== connections) continue;
    const other = peer.closedLoop.find((e) => e.connections === connections && e.round === entry.round);
    const peerFigure = other && figure(other);
    if (peerFigure) out.push(figure(entry) / peerFigure);
  }
  return out;
}

function roundTo3(value: number | undefined): number | null {
  return value === undefined ? null : Math.round(value * 1000) / 1000;
}

/** `null` when no pair could be compared (Gatehouse was not measured). */
export function computeRatios(results: TargetResult[]): Ratio[] | null {
  const measured = (id: TargetId): TargetResult | undefined => results.find((r) => r.id === id && r.available);
  const ratios = PAIRS.flatMap(([subjectId, peerId]) => {
    const subject = measured(subjectId);
    const peer = measured(peerId);
    if (!subject || !peer) return [];
    const requestsPerSecond: Record<string, number | null> = {};
    const p99: Record<string, number | null> = {};
    const requestsPerSecondByRound: Record<string, number[]> = {};
    for (const connections of new Set(subject.closedLoop.map((e) => e.connections))) {
      const rps = roundRatios(subject, peer, connections, (e) => e.wrk.requestsPerSecond);
      requestsPerSecondByRound[connections] = rps.map((ratio) => roundTo3(ratio)!);
      requestsPerSecond[connections] = roundTo3(median(rps));
      p99[connections] = roundTo3(median(roundRatios(subject, peer, connections, (e) => e.wrk.latencyMs.p99)));
    }
    const fixedRateP99: Record<string, number | null> = {};
    for (const run of subject.fixedRates) {
      const other = peer.fixedRates.find((r) => r.targetRate === run.targetRate);
      fixedRateP99[run.targetRate] = divide(run.latencyMs?.p99, other?.latencyMs?.p99);
    }
    return [{ subject: subjectId, peer: peerId, requestsPerSecond, p99, requestsPerSecondByRound, fixedRateP99 }];
  });
  return ratios.length ? ratios : null;
}

function errorsCell(errors: WrkResult['errors']): string {
  const total = errors.connect + errors.read + errors.write + errors.timeout + errors.status;
  if (total === 0) return '0';
  const parts = Object.entries(errors).filter(([, n]) => n > 0).map(([kind, n]) => `${kind} ${n}`);
  return `${total} (${parts.join(', ')})`;
}

/** Others' CPU above this (percent of one core) marks a run as disturbed by the shared machine. */
const DISTURBED_PERCENT = 25;

const CPU_HEADERS = ['proxy CPU %', 'others\' CPU %', 'busy % per core'];

function cpuCells(cpu: CpuReport): string[] {
  return [
    cpu.proxyProcessPercent === null ? '–' : fixed(cpu.proxyProcessPercent, 0),
    `${fixed(cpu.otherProcessesPercent, 0)}${cpu.otherProcessesPercent > DISTURBED_PERCENT ? ' ⚠' : ''}`,
    cpu.busyPercentPerCpu.map((p) => fixed(p, 0)).join(' / '),
  ];
}

/** The proxy's CPU time per answered request in a run (user + system, all its threads), in µs. */
function cpuMicrosPerRequest(e: ClosedLoopEntry): number | undefined {
  if (e.cpu.proxyProcessPercent === null || e.wrk.requests === 0) return undefined;
  return (e.cpu.proxyProcessPercent / 100) * e.wrk.durationS * 1e6 / e.wrk.requests;
}

/**
 * One row per target and connection count: the round with the median req/s (the lower middle
 * one for an even count) stands for the others (its latencies and CPU), and the last column lists every round's req/s.
 */
function closedLoopTable(results: TargetResult[]): string {
  const rows = results.flatMap((r) => [...new Set(r.closedLoop.map((e) => e.connections))].map((connections) => {
    const runs = r.closedLoop.filter((e) => e.connections === connections);
    const byRate = [...runs].sort((a, b) => a.wrk.requestsPerSecond - b.wrk.requestsPerSecond);
    const e = byRate[(byRate.length - 1) >> 1]!;
    const cpuPerRequest = cpuMicrosPerRequest(e);
    return [
      r.id, String(connections), fixed(e.wrk.requestsPerSecond, 0), fixed(e.wrk.latencyMs.p50), fixed(e.wrk.latencyMs.p99),
      fixed(e.wrk.latencyMs.p999), errorsCell(e.wrk.errors),
      ...cpuCells(e.cpu), cpuPerRequest === undefined ? '–' : fixed(cpuPerRequest, 0), r.id === 'direct' ? '–' : e.limitedBy,
      runs.map((run) => fixed(run.wrk.requestsPerSecond, 0)).join(' / '),
    ];
  }));
  return table(['target', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors', ...CPU_HEADERS, 'proxy CPU µs/req', 'limited by', 'req/s by round'], rows);
}

function fixedRateTable(results: TargetResult[]): string {
  const rows = results.flatMap((r) => r.fixedRates.map((f) => {
    const l = f.latencyMs;
    const overloaded = f.completedPerSecond < f.targetRate * 0.95 ? ' (could not keep up)' : '';
    return [
      r.id, fixed(f.targetRate, 0), `${fixed(f.completedPerSecond, 0)}${overloaded}`, l ? fixed(l.p50) : '–', l ? fixed(l.p99) : '–',
      l ? fixed(l.p999) : '–', l ? fixed(l.max) : '–', String(f.errors + f.non2xx), fixed(f.generatorLagMs.p99), ...cpuCells(f.cpu),
    ];
  }));
  return table(['target', 'rate', 'answered req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'errors + non-2xx', 'client lag p99 ms', ...CPU_HEADERS], rows);
}

function ratioTable(ratios: Ratio[], connections: number[], rates: number[]): string {
  const headers = ['target ÷ peer', ...connections.map((c) => `req/s @${c} conns`), ...connections.map((c) => `p99 @${c} conns`), ...rates.map((r) => `p99 @${r} req/s`)];
  const cell = (value: number | null | undefined): string => (value === null || value === undefined ? '–' : fixed(value, 2));
  const spread = (values: number[] | undefined): string => (values && values.length > 1 ? ` (${fixed(Math.min(...values), 2)}–${fixed(Math.max(...values), 2)})` : '');
  const rows = ratios.map((r) => [
    `${r.subject} ÷ ${r.peer}`, ...connections.map((c) => `${cell(r.requestsPerSecond[c])}${spread(r.requestsPerSecondByRound[c])}`), ...connections.map((c) => cell(r.p99[c])), ...rates.map((rate) => cell(r.fixedRateP99[rate])),
  ]);
  return table(headers, rows);
}

/** Settings echoed under the tables so that a reader knows what was measured. */
export interface ProxySettings {
  durationS: number;
  rounds: number;
  warmupS: number;
  connections: number[];
  fixedRate: { rates: number[]; durationS: number; warmupS: number; connections: number };
  cpuLayout: string;
  priority: string;
  gatehouseCode: string;
  wrkThreads: number | string;
  tls: string;
  requestLogging: string;
}

/** The section's markdown: tables, ratios, targets and settings. */
export function renderProxySection(results: TargetResult[], ratios: Ratio[] | null, settings: ProxySettings): string {
  const out: string[] = [];
  const rounds = settings.rounds > 1
    ? `${settings.rounds} rounds, each running every target in turn, every other round in reverse order; each row is the target's round with the median req/s (for an even count, the lower of the middle two)`
    : 'one round';
  out.push(`#### Closed loop: wrk, ${settings.durationS} s per run, keep-alive connections, ${rounds}`, '', closedLoopTable(results), '');
  const f = settings.fixedRate;
  out.push(`#### Fixed rate: ${f.rates.join(' and ')} req/s, ${f.durationS} s each after ${f.warmupS} s of warm-up (open loop, latency from each request's due time, up to ${f.connections} connections)`, '', fixedRateTable(results), '');
  out.push(`⚠ = processes outside the benchmark used more than ${DISTURBED_PERCENT} % of a core during that run: its percentiles say more about the shared machine than about the target. \`limited by\`: \`proxy\` = the proxy used ≥ 90 % of its core (the figure is its capacity); \`load core\` = the core of wrk and the upstream was full first, with their work and any other process's (the figure is a lower bound); \`unclear\` = neither, other processes took the difference.`, '');
  out.push(`#### Ratios, same run (req/s: higher is better; p99: lower is better)${settings.rounds > 1 ? '; closed loop: median of the per-round ratios, (lowest–highest round) for req/s' : ''}`, '');
  out.push(ratios ? ratioTable(ratios, settings.connections, settings.fixedRate.rates) : '_Gatehouse was not measured in this run, so there are no ratios._', '');
  out.push('#### Targets', '');
  for (const r of results) {
    const state = r.available ? (r.tls ? `${r.tls.protocol} ${r.tls.cipher}` : 'plain HTTP') : `**not available**: ${firstLine(r.reason)}`;
    const q = r.quietCheck;
    const quiet = q ? `; machine ${q.quiet ? `quiet after ${q.waitedS} s` : `still busy after ${q.waitedS} s (others at ${fixed(q.otherProcessesPercent, 0)} % of a core)`}` : '';
    out.push(`- \`${r.id}\` — ${r.label}: ${state}${quiet}${r.failures.length ? `; failed runs: ${r.failures.map(firstLine).join('; ')}` : ''}`);
  }
  out.push('', `Settings: warm-up ${settings.warmupS} s per target; wrk threads: ${settings.wrkThreads}; ${settings.cpuLayout}; ${settings.priority}; Gatehouse code: ${settings.gatehouseCode}; TLS: ${settings.tls}; request logging: ${settings.requestLogging}.`);
  return out.join('\n');
}

function firstLine(text: string | undefined): string {
  return (text ?? 'unknown').split('\n')[0]!.slice(0, 300);
}
