/**
 * The contract between `run.ts` and a benchmark section (`sections/<name>.ts`).
 * A section starts what it measures through the context (so that everything is killed
 * on exit), measures, and returns figures as JSON plus a markdown rendering.
 */
import type { ProcessRegistry } from './processes.ts';
import type { CpuLayout } from './cpu.ts';
import type { ToolPaths } from './tools.ts';
import type { CertFiles } from './cert.ts';

/** Options parsed from the command line, shared by every section. */
export interface BenchOptions {
  /** Seconds of each measured closed-loop run. */
  durationS: number;
  /**
   * Closed-loop rounds of sections that compare targets: each round runs every target once,
   * in turn, and ratios are taken within a round (default 3; --quick: 1).
   */
  rounds: number;
  /** Seconds of warm-up before each target's measured runs (JIT, connection pools). */
  warmupS: number;
  /** Request rates of the fixed-rate (open-loop) latency runs, one run each. */
  rates: number[];
  /** Seconds of each fixed-rate run (after its own warm-up). */
  rateDurationS: number;
  /** Concurrent connections of the closed-loop runs. */
  connections: number[];
  quick: boolean;
  /** Sections that compare several targets measure only these (`--targets`); undefined: all. */
  targets: string[] | undefined;
  /** Pin proxies and load generators to separate CPUs with taskset. */
  pin: boolean;
  /** Longest wait for a quiet machine (others' CPU below 25 % for a second) before each target; 0: no wait. */
  quietWaitS: number;
  /** Niceness of every benchmark process (default -10: less disturbed by other work on a shared machine). */
  nice: number;
  /** Write a V8 CPU profile of every Gatehouse instance to test/bench/results/profiles/. */
  profile: boolean;
  /** Run Gatehouse from an export of HEAD (default) or from the work tree as it is. */
  gatehouseTree: 'head' | 'worktree';
  /** The git revision exported when `gatehouseTree` is 'head' (default HEAD; `--gatehouse-ref`). */
  gatehouseRef: string;
}

/** What a section gets from the harness. */
export interface BenchContext {
  readonly options: BenchOptions;
  readonly repoRoot: string;
  /** Private temporary directory of this run; removed at the end. */
  readonly tmpDir: string;
  /** The project's pinned Node binary (never the machine's). */
  readonly nodeBin: string;
  readonly tools: ToolPaths;
  readonly processes: ProcessRegistry;
  readonly cpus: CpuLayout;
  /** One self-signed certificate (localhost, 127.0.0.1) shared by every TLS target. */
  cert(): Promise<CertFiles>;
  /** Progress line on stderr (stdout is kept for the result table). */
  log(message: string): void;
}

/** What a section returns; `data` lands in results/latest.json under the section's name. */
export interface SectionResult {
  /** Markdown (tables and notes) for stdout and BENCHMARKS.md. */
  markdown: string;
  data: unknown;
}

/** A benchmark section, registered in run.ts. */
export interface Section {
  /** Stable name used by `--only` and the BENCHMARKS.md markers (kebab-case). */
  readonly name: string;
  /** One line, shown by `--help`. */
  readonly description: string;
  run(ctx: BenchContext): Promise<SectionResult>;
}
