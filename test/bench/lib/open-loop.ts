/**
 * Runs open-loop-client.ts (fixed request rate, latency from each request's due time) as a
 * separate process pinned with the load side, and parses its JSON line.
 */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { BenchContext } from './section.ts';

const MARKER = 'GATEHOUSE_OPEN_LOOP_JSON ';
const CLIENT = fileURLToPath(new URL('../open-loop-client.ts', import.meta.url));

const ms = z.number().min(0);
const count = z.number().int().min(0);
const openLoopJson = z.object({
  targetRate: z.number().positive(),
  durationS: z.number().positive(),
  sent: count,
  completed: count,
  completedPerSecond: count,
  non2xx: count,
  errors: count,
  errorKinds: z.record(z.string(), count),
  maxInFlight: count,
  latencyMs: z.object({ p50: ms, p90: ms, p99: ms, p999: ms, max: ms }).strict().nullable(),
  generatorLagMs: z.object({ p99: ms, max: ms }).strict(),
}).strict();

/** One fixed-rate run as the client reports it (latencies in ms, from due times). */
export type OpenLoopResult = z.infer<typeof openLoopJson>;

/** Extracts and validates the client's JSON line. */
export function parseOpenLoopOutput(stdout: string): OpenLoopResult {
  const line = stdout.split('\n').find((candidate) => candidate.startsWith(MARKER));
  if (line === undefined) throw new Error(`open-loop client printed no result:\n${stdout.slice(0, 2000)}`);
  const parsed = openLoopJson.safeParse(JSON.parse(line.slice(MARKER.length)));
  if (!parsed.success) throw new Error(`open-loop result does not match its schema: ${z.prettifyError(parsed.error)}\n${line}`);
  return parsed.data;
}

/** Parameters of one fixed-rate run. */
export interface OpenLoopRun {
  url: string;
  rate: number;
  durationS: number;
  warmupS: number;
  connections: number;
  /** PEM file to trust for HTTPS targets. */
  caFile?: string;
}

/** Runs the open-loop client on the load CPU and returns its validated result. */
export async function runOpenLoop(ctx: BenchContext, run: OpenLoopRun): Promise<OpenLoopResult> {
  const args = [
    CLIENT, '--url', run.url, '--rate', String(run.rate), '--duration', String(run.durationS),
    '--warmup', String(run.warmupS), '--connections', String(run.connections),
    ...(run.caFile ? ['--ca', run.caFile] : []),
  ];
  const { code, output } = await ctx.processes.run('open-loop-client', ctx.nodeBin, args, { cpu: ctx.cpus.load });
  if (code !== 0) throw new Error(`open-loop client exited with ${code}:\n${output.slice(0, 2000)}`);
  return parseOpenLoopOutput(output);
}
