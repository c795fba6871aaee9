/**
 * Open-loop (constant arrival rate) load generator: request i is due at start + i/rate,
 * whether or not earlier answers have arrived, and its latency is measured from that due
 * time, not from when it was actually sent. A proxy that stalls therefore gets charged for
 * every request that should have been sent during the stall ("coordinated omission"
 * corrected, like wrk2). Debian has no wrk2; see BENCHMARKS.md for why this and not
 * autocannon.
 *
 * Requests go out over a keep-alive undici Pool (up to --connections); when all are busy,
 * requests wait in the pool's queue and that wait is part of their latency, as it would be
 * for real clients arriving at that rate.
 *
 * Usage: node test/bench/open-loop-client.ts --url U --rate R --duration S [--warmup S] [--connections N] [--ca FILE]
 * Prints one line: GATEHOUSE_OPEN_LOOP_JSON {...}
 */
import { readFileSync } from 'node:fs';
import { createHistogram, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    rate: { type: 'string', default: '5000' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '100' },
    ca: { type: 'string' },
    'timeout-ms': { type: 'string', default: '10000' },
  },
});
if (!values.url) {
  process.stderr.write('usage: open-loop-client.ts --url URL --rate R --duration S [--warmup S] [--connections N] [--ca FILE]\n');
  process.exit(2);
}

const url = new URL(values.url);
const rate = Number(values.rate);
const durationS = Number(values.duration);
const warmupS = Number(values.warmup);
const timeoutMs = Number(values['timeout-ms']);
const ca = values.ca ? readFileSync(values.ca, 'utf8') : undefined;

const pool = new Pool(url.origin, {
  connections: Number(values.connections),
  pipelining: 1,
  keepAliveTimeout: 60_000,
  headersTimeout: timeoutMs,
  bodyTimeout: timeoutMs,
  ...(ca ? { connect: { ca, rejectUnauthorized: true } } : {}),
});

// Microseconds, 1 µs .. 60 s, 3 significant digits (HDR histogram built into Node).
const latency = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 });
// How late the generator itself sent each request: if this is large, the client was the bottleneck.
const lag = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 });

const total = Math.round((warmupS + durationS) * rate);
const firstMeasured = Math.round(warmupS * rate);
const path = `${url.pathname}${url.search}`;
const start = performance.now() + 20;
const windowStart = start + (firstMeasured * 1000) / rate;

let sent = 0;
let inFlight = 0;
let maxInFlight = 0;
let completed = 0;
let non2xx = 0;
let errors = 0;
let lastCompletion = windowStart;
const errorKinds: Record<string, number> = {};

function fire(index: number, due: number, now: number): void {
  const measured = index >= firstMeasured;
  if (measured) lag.record(Math.max(1, Math.round((now - due) * 1000)));
  inFlight++;
  if (inFlight > maxInFlight) maxInFlight = inFlight;
  let status = 0;
  // dispatch() with a bare handler: no response stream objects, so the client stays cheap
  // next to the upstream it shares a CPU with.
  pool.dispatch({ path, method: 'GET', origin: url.origin }, {
    onRequestStart() {},
    onResponseData() {},
    onResponseStart(_controller, statusCode) {
      status = statusCode;
    },
    onResponseEnd() {
      const end = performance.now();
      inFlight--;
      if (!measured) return;
      completed++;
      lastCompletion = end;
      if (status < 200 || status > 299) non2xx++;
      latency.record(Math.max(1, Math.round((end - due) * 1000)));
    },
    onResponseError(_controller, error) {
      inFlight--;
      if (!measured) return;
      errors++;
      const kind = (error as { code?: string }).code ?? error.name;
      errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
    },
  });
}

// Timers fire at best every millisecond, so requests leave in small bursts (rate/1000 per
// tick); each keeps its exact due time. A busy-wait would be smoother but would steal the
// CPU this client shares with the upstream.
function tick(): void {
  const now = performance.now();
  const due = now < start ? 0 : Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
  while (sent < due) {
    fire(sent, start + (sent * 1000) / rate, now);
    sent++;
  }
  if (sent < total) setTimeout(tick, 1);
  else void finish();
}

async function finish(): Promise<void> {
  const deadline = performance.now() + timeoutMs + 1000;
  while (inFlight > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  const measuredSent = total - firstMeasured;
  const unfinished = measuredSent - completed - errors;
  const us = (value: number): number => Math.round(value) / 1000;
  const result = {
    targetRate: rate,
    durationS,
    sent: measuredSent,
    completed,
    completedPerSecond: Math.round(completed / Math.max(0.001, (lastCompletion - windowStart) / 1000)),
    non2xx,
    errors: errors + unfinished,
    errorKinds: unfinished > 0 ? { ...errorKinds, unfinished } : errorKinds,
    maxInFlight,
    latencyMs: completed === 0 ? null : {
      p50: us(latency.percentile(50)), p90: us(latency.percentile(90)), p99: us(latency.percentile(99)),
      p999: us(latency.percentile(99.9)), max: us(latency.max),
    },
    generatorLagMs: { p99: us(lag.percentile(99)), max: us(lag.max) },
  };
  process.stdout.write(`GATEHOUSE_OPEN_LOOP_JSON ${JSON.stringify(result)}\n`);
  await pool.destroy();
  process.exit(0);
}

setTimeout(tick, 0);
