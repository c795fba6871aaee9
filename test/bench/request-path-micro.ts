/**
 * In-process A/B micro-benchmarks of pieces of the gateway's per-request path, for a
 * machine too busy for throughput figures: each variant runs in alternating batches in the
 * same process and reports CPU time per operation (process.cpuUsage, user + system) as the
 * median over the batches. The "before" variants restate what the code did before the
 * change they measure, so that both can be run from one tree.
 *
 * Each batch starts after a full GC; the scavenges a variant's garbage causes fall in its own batch.
 *
 * Usage: node --expose-gc test/bench/request-path-micro.ts [--batches 15] [--ops 20000] [--only name]
 */
import { parseArgs } from 'node:util';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { RequestContext } from '../../src/gateway/context.ts';
import type { Generation } from '../../src/gateway/generation.ts';
import { responseHeaders } from '../../src/gateway/upstream/response-headers.ts';
import { RateLimitDecider } from '../../src/ratelimit/decider.ts';
import { formatRateLimitHeaders } from '../../src/ratelimit/headers.ts';
import { MemoryRateLimiter } from '../../src/ratelimit/memory-limiter.ts';
import type { RateLimitResult } from '../../src/ratelimit/types.ts';
import { randomUUID } from 'node:crypto';
import { generateRequestId } from '../../src/gateway/http/request-id.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { DeadlineList } from '../../src/gateway/upstream/deadlines.ts';
import { formatTraceparent, generateSpanId, generateTraceId, startTraceContext, type TraceContext } from '../../src/observability/trace-context.ts';

const { values } = parseArgs({ options: { batches: { type: 'string', default: '15' }, ops: { type: 'string', default: '20000' }, only: { type: 'string' } } });
const batches = Number(values.batches);
const ops = Number(values.ops);

interface Case { name: string; variants: Record<string, () => void> }
const cases: Case[] = [];

// --- RateLimit headers: set on the response (slow writeHead) vs collected for the one writeHead.
{
  const socket = new Socket();
  const upstream = { 'content-type': 'text/plain', 'content-length': '2', date: 'Sun, 22 Nov 2026 10:00:00 GMT', server: 'nginx' };
  const limit = { rate: 1e9, periodMs: 1000, burst: 1e9 };
  const limiter = new MemoryRateLimiter();
  const decider = new RateLimitDecider('identity', 'identity', { limiter }, true);
  const gen = {} as Generation;
  const fresh = (): RequestContext => {
    const req = new IncomingMessage(socket);
    const ctx = new RequestContext(req, new ServerResponse(req), gen);
    ctx.requestId = 'b7f3c1de-0c4a-4e0e-9a7e-2f1d6c5b4a39';
    return ctx;
  };
  cases.push({
    name: 'ratelimit-headers',
    variants: {
      'setHeader + writeHead (before)': () => {
        const ctx = fresh();
        const result = limiter.consume('id:alice', limit) as RateLimitResult;
        for (const [name, value] of Object.entries(formatRateLimitHeaders(result, 'identity'))) ctx.res.setHeader(name, value);
        ctx.res.writeHead(200, responseHeaders(upstream, ctx.requestId, undefined));
      },
      'collected, one writeHead (after)': () => {
        const ctx = fresh();
        decider.decide(ctx, 'id:alice', limit);
        ctx.res.writeHead(200, responseHeaders(upstream, ctx.requestId, ctx.responseHeaders));
      },
    },
  });
}

// --- Total timeout: a Node timer per exchange vs the shared coarse deadline list. 128
// exchanges are pending at any time (each op starts one and ends the oldest), as under load.
{
  const inflight = 128;
  class TimerExchange {
    timer: NodeJS.Timeout | undefined = undefined;
    aborted = false;
    onTotalTimeout = (): void => { this.aborted = true; };
  }
  class DeadlineExchange {
    deadlineAt = 0;
    deadlineSlot = -1;
    aborted = false;
    onDeadline(): void { this.aborted = true; }
  }
  const timers: (TimerExchange | undefined)[] = new Array(inflight);
  const deadlines: (DeadlineExchange | undefined)[] = new Array(inflight);
  const list = new DeadlineList();
  let t = 0;
  let d = 0;
  cases.push({
    name: 'total-timeout',
    variants: {
      'setTimeout + clearTimeout (before)': () => {
        const old = timers[t];
        if (old) clearTimeout(old.timer);
        const x = new TimerExchange();
        x.timer = setTimeout(x.onTotalTimeout, 120_000);
        timers[t] = x;
        t = (t + 1) % inflight;
      },
      'coarse deadline list (after)': () => {
        const old = deadlines[d];
        if (old) list.remove(old);
        const x = new DeadlineExchange();
        list.add(x, 120_000);
        deadlines[d] = x;
        d = (d + 1) % inflight;
      },
    },
  });
}

// --- A new trace: two hex conversions (one per id) vs one conversion sliced into both ids;
// the traceparent for the upstream is formatted and flattened in both (as writing it would).
{
  let sink = 0;
  const use = (trace: TraceContext): void => { sink += Buffer.byteLength(formatTraceparent(trace), 'latin1'); };
  cases.push({
    name: 'trace-ids',
    variants: {
      'two conversions (before)': () => { use({ traceId: generateTraceId(), spanId: generateSpanId(), parentSpanId: undefined, sampled: false, traceparent: '' }); },
      'one conversion, sliced (after)': () => { use(startTraceContext(undefined, true)); },
    },
  });
}

// --- Request id: crypto.randomUUID (a cons-string tree) vs one flat string from a pooled
// buffer; indexOf flattens the string as writing it into a header block does.
{
  let sink = 0;
  cases.push({
    name: 'request-id',
    variants: {
      'randomUUID (before)': () => { sink += randomUUID().indexOf('-', 30); },
      'flat string from pooled bytes (after)': () => { sink += generateRequestId().indexOf('-', 30); },
    },
  });
}

// --- Requests in flight: a prom-client gauge inc + dec per request vs a plain count read at scrape.
{
  const metrics = createMetrics({ defaultMetrics: false });
  let count = 0;
  cases.push({
    name: 'inflight-gauge',
    variants: {
      'gauge inc + dec (before)': () => { count++; metrics.inflight.inc(); count--; metrics.inflight.dec(); },
      'count only, read at scrape (after)': () => { count++; count--; },
    },
  });
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const gc = (globalThis as { gc?: () => void }).gc;

process.stdout.write(`conditions: ${batches} alternating batches of ${ops} ops per variant, CPU µs/op median (min–max); loadavg ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}${gc ? '' : ' (no --expose-gc: GC of one batch may land in the next)'}\n`);
for (const c of cases) {
  if (values.only && c.name !== values.only) continue;
  const names = Object.keys(c.variants);
  const samples = new Map<string, number[]>(names.map((n) => [n, []]));
  for (const n of names) for (let i = 0; i < ops; i++) c.variants[n]!(); // warm-up (JIT)
  for (let b = 0; b < batches; b++) {
    for (const n of (b % 2 ? [...names].reverse() : names)) {
      gc?.();
      const fn = c.variants[n]!;
      const start = cpuUs();
      for (let i = 0; i < ops; i++) fn();
      samples.get(n)!.push((cpuUs() - start) / ops);
    }
  }
  process.stdout.write(`${c.name}\n`);
  for (const n of names) {
    const xs = samples.get(n)!;
    process.stdout.write(`  ${n.padEnd(44)} ${median(xs).toFixed(3)} µs/op (${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)})\n`);
  }
}
// Pending timers of the timeout case would keep the process alive for two minutes.
process.exit(0);
