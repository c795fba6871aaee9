/**
 * CPU placement and CPU accounting. On a small machine the load generator, the upstream
 * and the proxy compete for the same cores; measuring who used how much CPU is what tells
 * whether a figure is the proxy's limit or the load side's.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';

/** Which CPU each role is pinned to; `undefined` means not pinned (the scheduler decides). */
export interface CpuLayout {
  /** The proxy under test. */
  proxy: number | undefined;
  /** The load generator (wrk, open-loop client) and the nginx upstream. */
  load: number | undefined;
  /** Human-readable explanation, recorded with the results. */
  description: string;
}

/**
 * With two or more CPUs and taskset: the proxy alone on the last CPU, load generator and
 * upstream on the one before it. The last CPU is used for the proxy so that on a bigger
 * machine CPU 0 (where interrupts usually land) stays with the load side.
 */
export function chooseCpuLayout(pin: boolean, tasksetAvailable: boolean): CpuLayout {
  const count = cpus().length;
  if (!pin || !tasksetAvailable || count < 2) {
    const why = !pin ? 'pinning disabled (--no-pin)' : !tasksetAvailable ? 'taskset not found' : 'only one CPU';
    return { proxy: undefined, load: undefined, description: `not pinned: ${why}; every process may run on any of ${count} CPU(s)` };
  }
  const proxy = count - 1;
  const load = count - 2;
  return { proxy, load, description: `proxy under test pinned to CPU ${proxy}; load generator and nginx upstream pinned together to CPU ${load}` };
}

interface CpuSample {
  /** Every non-idle jiffy, interrupts and steal included. */
  busy: number;
  /** user + nice + system: the time that is charged to some process. */
  process: number;
  total: number;
}

/** Jiffies of each CPU, from /proc/stat. */
export function sampleCpus(): CpuSample[] {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n').filter((line) => /^cpu\d+ /.test(line));
  return lines.map((line) => {
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: idle + iowait is not busy.
    const total = f.slice(0, 8).reduce((sum, value) => sum + value, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: total - idle, process: (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0), total };
  });
}

/** Percent busy of each CPU between two samples. */
export function cpuBusyPercent(before: CpuSample[], after: CpuSample[]): number[] {
  return after.map((sample, index) => {
    const start = before[index];
    if (!start) return 0;
    const total = sample.total - start.total;
    return total <= 0 ? 0 : Math.round(((sample.busy - start.busy) / total) * 1000) / 10;
  });
}

function statFields(path: string): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(path, 'utf8');
  } catch {
    return undefined; // Exited between listing and reading.
  }
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  // Index 0 is field 3 (state); pgrp is field 5, utime 14, stime 15, cutime 16, cstime 17.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU ticks of every process in a process group (all threads included). */
export function groupCpuTicks(pgid: number): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(`/proc/${entry}/stat`);
    if (!fields || Number(fields[2]) !== pgid) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks;
}

/** The harness's own ticks plus those of its children that have ended (wrk, the open-loop client). */
function selfAndEndedChildrenTicks(): number {
  const fields = statFields('/proc/self/stat') ?? [];
  return Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
}

/** Linux reports process CPU time in USER_HZ ticks, 100 per second on every mainstream build. */
export const TICKS_PER_SECOND = 100;

/** Where the CPU went during one measured run, in percent of one core. */
export interface CpuReport {
  /** The proxy under test (null when there is none, i.e. direct). */
  proxyProcessPercent: number | null;
  /**
   * Processes outside this benchmark (other people's tests, builds): CPU charged to
   * processes minus everything the harness started. Approximate (kernel work done for the
   * benchmark's sockets may land here); well above a few percent means a disturbed figure.
   */
  otherProcessesPercent: number;
  /** Busy percent of each CPU, whoever used it. */
  busyPercentPerCpu: number[];
}

/**
 * Measures CPU use across one run. `proxyPgid` is the proxy's process group, `otherPgids`
 * the other long-running processes of the benchmark (the upstream); processes that end
 * within the run (wrk) are counted through the harness's reaped-children time.
 */
export function startCpuMeter(proxyPgid: number | undefined, otherPgids: number[]): { stop(): CpuReport } {
  const own = (): number => selfAndEndedChildrenTicks() + [proxyPgid, ...otherPgids].reduce<number>((sum, pgid) => sum + (pgid === undefined ? 0 : groupCpuTicks(pgid)), 0);
  const cpusBefore = sampleCpus();
  const ownBefore = own();
  const proxyBefore = proxyPgid === undefined ? 0 : groupCpuTicks(proxyPgid);
  return {
    stop(): CpuReport {
      const cpusAfter = sampleCpus();
      const ownTicks = own() - ownBefore;
      const proxyTicks = proxyPgid === undefined ? 0 : groupCpuTicks(proxyPgid) - proxyBefore;
      // Elapsed time per CPU in ticks: the same on every CPU, so take the average.
      const elapsed = cpusAfter.reduce((sum, s, i) => sum + s.total - (cpusBefore[i]?.total ?? s.total), 0) / Math.max(1, cpusAfter.length);
      const processTicks = cpusAfter.reduce((sum, s, i) => sum + s.process - (cpusBefore[i]?.process ?? s.process), 0);
      const percent = (ticks: number): number => (elapsed <= 0 ? 0 : Math.round((ticks / elapsed) * 1000) / 10);
      return {
        proxyProcessPercent: proxyPgid === undefined ? null : percent(proxyTicks),
        otherProcessesPercent: Math.max(0, percent(processTicks - ownTicks)),
        busyPercentPerCpu: cpuBusyPercent(cpusBefore, cpusAfter),
      };
    },
  };
}

/** How busy the machine was with other work when a measurement started. */
export interface QuietCheck {
  /** Whether a second with others' CPU below the threshold was seen before the deadline. */
  quiet: boolean;
  waitedS: number;
  /** Others' CPU (percent of one core) in the last second sampled. */
  otherProcessesPercent: number;
}

/**
 * Waits (up to `maxWaitS`) for one second in which processes outside the benchmark use
 * less than `thresholdPercent` of a core, so that a shared machine's bursts (someone's test
 * suite, a typecheck) disturb fewer runs. Never fails: the result is recorded instead.
 */
export async function waitForQuiet(ownPgids: number[], maxWaitS: number, thresholdPercent = 25): Promise<QuietCheck> {
  const started = Date.now();
  let last = 0;
  do {
    const meter = startCpuMeter(undefined, ownPgids);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    last = meter.stop().otherProcessesPercent;
    if (last < thresholdPercent) return { quiet: true, waitedS: Math.round((Date.now() - started) / 1000), otherProcessesPercent: last };
  } while (Date.now() - started < maxWaitS * 1000);
  return { quiet: false, waitedS: Math.round((Date.now() - started) / 1000), otherProcessesPercent: last };
}
