/**
 * Closed-loop throughput with wrk: N keep-alive connections, each sends its next request
 * as soon as the previous answer arrived. wrk's Lua `done()` hook (wrk-report.lua) prints
 * the summary as JSON, which is parsed here.
 */
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import type { BenchContext } from './section.ts';

const MARKER = 'GATEHOUSE_WRK_JSON ';
const SCRIPT = fileURLToPath(new URL('./wrk-report.lua', import.meta.url));

const count = z.number().int().min(0);
const wrkJson = z.object({
  durationUs: z.number().positive(),
  requests: count,
  bytes: count,
  errors: z.object({ connect: count, read: count, write: count, status: count, timeout: count }).strict(),
  latencyUs: z.object({
    min: z.number().min(0), mean: z.number().min(0), max: z.number().min(0), stdev: z.number().min(0),
    p50: z.number().min(0), p90: z.number().min(0), p99: z.number().min(0), p999: z.number().min(0),
  }).strict(),
}).strict();

/** One wrk run, in the units the report uses. */
export interface WrkResult {
  durationS: number;
  requests: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  /**
   * Socket errors as wrk counts them, plus `status`: responses with a status of 400 or
   * more (wrk's definition of a non-2xx/3xx answer).
   */
  errors: { connect: number; read: number; write: number; timeout: number; status: number };
}

const ms = (us: number): number => Math.round(us) / 1000;

/** Extracts the JSON line that wrk-report.lua prints; throws when it is missing or malformed. */
export function parseWrkOutput(stdout: string): WrkResult {
  const line = stdout.split('\n').find((candidate) => candidate.startsWith(MARKER));
  if (line === undefined) throw new Error(`wrk printed no ${MARKER.trim()} line:\n${stdout.slice(0, 2000)}`);
  const parsed = wrkJson.safeParse(JSON.parse(line.slice(MARKER.length)));
  if (!parsed.success) throw new Error(`wrk result does not match its schema: ${z.prettifyError(parsed.error)}\n${line}`);
  const raw = parsed.data;
  const durationS = raw.durationUs / 1e6;
  const l = raw.latencyUs;
  return {
    durationS,
    requests: raw.requests,
    requestsPerSecond: Math.round(raw.requests / durationS),
    latencyMs: { p50: ms(l.p50), p90: ms(l.p90), p99: ms(l.p99), p999: ms(l.p999), max: ms(l.max), mean: ms(l.mean) },
    errors: { ...raw.errors },
  };
}

/** Parameters of one wrk run. */
export interface WrkRun {
  url: string;
  connections: number;
  durationS: number;
  /** Timeout per request; slower answers count as `timeout` errors. */
  timeoutS?: number;
}

/**
 * Runs wrk with one thread per CPU it may use: pinned, that is one thread on the load CPU
 * (more threads on one core would only contend); unpinned, one per CPU.
 */
export async function runWrk(ctx: BenchContext, run: WrkRun): Promise<WrkResult> {
  const threads = ctx.cpus.load === undefined ? Math.max(1, Math.min(run.connections, availableParallelism())) : 1;
  const args = [
    '-t', String(threads), '-c', String(run.connections), '-d', `${run.durationS}s`,
    '--timeout', `${run.timeoutS ?? 5}s`, '-s', SCRIPT, run.url,
  ];
  const { code, output } = await ctx.processes.run('wrk', ctx.tools.wrk, args, { cpu: ctx.cpus.load });
  if (code !== 0) throw new Error(`wrk exited with ${code}:\n${output.slice(0, 2000)}`);
  return parseWrkOutput(output);
}
