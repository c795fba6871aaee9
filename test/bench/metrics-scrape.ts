/**
 * Cost of one /metrics scrape on the ops listener with a realistic number of series, filled
 * through the request path's own counting (RequestMetrics): CPU of the scrape, wall time, and
 * the longest event-loop stall while it runs (what every request in flight waits for), as
 * wall time (monitorEventLoopDelay; includes the OS preempting a busy machine) and as the
 * main thread's CPU between two event-loop turns. The client runs in the same process, so
 * the CPU figure includes reading the response.
 *
 * Usage: node --expose-gc test/bench/metrics-scrape.ts [--routes 200] [--statuses 6] [--upstreams 50] [--scrapes 9]
 */
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createOpsServer } from '../../src/observability/ops-server.ts';
import { HealthRegistry } from '../../src/observability/health.ts';
import { RequestMetrics } from '../../src/gateway/request-metrics.ts';

const { values } = parseArgs({ options: { routes: { type: 'string', default: '200' }, statuses: { type: 'string', default: '6' }, upstreams: { type: 'string', default: '50' }, scrapes: { type: 'string', default: '9' } } });
const routes = Number(values.routes);
const statuses = [200, 201, 304, 404, 502, 503].slice(0, Number(values.statuses));
const upstreams = Number(values.upstreams);

const metrics = createMetrics({ inflight: () => 3 });
const counted = new RequestMetrics(metrics);
const names = Array.from({ length: upstreams }, (_, i) => `upstream-${i}`);
counted.keepUpstreams(names);

/** Traffic between scrapes: every series gets a few observations spread over the buckets. */
function traffic(): void {
  for (let r = 0; r < routes; r++) {
    for (const status of statuses) for (let k = 0; k < 4; k++) counted.request(`route-${r}`, 'GET', status, 0.0003 * (k + 1) * (r % 50 + 1));
    if (r % 10 === 0) counted.error(`route-${r}`, 'ERR_GATEWAY_UPSTREAM_TIMEOUT');
  }
  for (const [i, name] of names.entries()) { counted.observeUpstream(name, 1 + i); if (i % 7 === 0) counted.upstreamFailed(name, 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE'); }
}

const server = createOpsServer({ health: new HealthRegistry('bench'), registry: metrics.registry, isDraining: () => false, actions: () => new Map() });
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;

function scrape(): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve(body));
    }).on('error', reject).end();
  });
}

const rows: { cpuMs: number; wallMs: number; maxStallMs: number; maxRunMs: number }[] = [];
let lines = 0;
for (let i = 0; i < Number(values.scrapes); i++) {
  traffic();
  (globalThis as { gc?: () => void }).gc?.();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  let maxRunMs = 0;
  let last = process.threadCpuUsage();
  let scraping = true;
  const spin = () => {
    const now = process.threadCpuUsage();
    maxRunMs = Math.max(maxRunMs, (now.user - last.user + now.system - last.system) / 1000);
    last = now;
    if (scraping) setImmediate(spin);
  };
  setImmediate(spin);
  const cpu = process.cpuUsage();
  const start = performance.now();
  const text = await scrape();
  scraping = false;
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  delay.disable();
  lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
  rows.push({ cpuMs: (used.user + used.system) / 1000, wallMs, maxStallMs: delay.max / 1e6, maxRunMs });
}
server.close();
const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)]!;
// The first scrape creates the series in prom-client and warms the JIT; reported apart.
const [first, ...rest] = rows;
console.log(`series lines: ${lines}`);
console.log(`first scrape: cpu ${first!.cpuMs.toFixed(1)} ms, wall ${first!.wallMs.toFixed(1)} ms, longest stall ${first!.maxStallMs.toFixed(1)} ms, longest main-thread run ${first!.maxRunMs.toFixed(1)} ms CPU`);
console.log(`next ${rest.length} (median): cpu ${median(rest.map((r) => r.cpuMs)).toFixed(1)} ms, wall ${median(rest.map((r) => r.wallMs)).toFixed(1)} ms, longest stall ${median(rest.map((r) => r.maxStallMs)).toFixed(1)} ms (worst ${Math.max(...rest.map((r) => r.maxStallMs)).toFixed(1)} ms), longest main-thread run ${median(rest.map((r) => r.maxRunMs)).toFixed(1)} ms CPU (worst ${Math.max(...rest.map((r) => r.maxRunMs)).toFixed(1)} ms)`);
