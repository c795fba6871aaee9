/**
 * The bare Gatehouse request path: the Gateway class with no components composed (no
 * audit, detection, rate limits, identity or policy), one public catch-all route, access
 * log off. Same command line as minimal-proxy.ts, so the two can be run back to back in
 * front of the same upstream and the difference is the gateway's own per-request work.
 *
 * Usage: node test/bench/bare-gateway.ts --port P --upstream http://127.0.0.1:U --cert C --key K [--connections 256]
 * With GATEHOUSE_BENCH_RATELIMIT=1 in the environment the edge and per-identity rate-limit
 * stages run too (memory limiter, limits never reached), as in the default composition.
 * Prints "listening <port>" once it accepts connections. SIGTERM stops it gracefully (so
 * that --cpu-prof writes its profile).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Gateway } from '../../src/gateway/gateway.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import { ratelimitSchema } from '../../src/core/config/ratelimit-schema.ts';
import { createEdgeRateLimitStage } from '../../src/gateway/pipeline/edge-rate-limit.ts';
import { createRateLimitStage } from '../../src/gateway/pipeline/rate-limit.ts';
import { MemoryRateLimiter } from '../../src/ratelimit/memory-limiter.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    upstream: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    connections: { type: 'string', default: '256' },
  },
});
if (!values.upstream || !values.cert || !values.key) {
  process.stderr.write('usage: bare-gateway.ts --port P --upstream URL --cert FILE --key FILE [--connections N]\n');
  process.exit(2);
}

const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-bare-'));
const loaded = parseConfig({
  dataDir,
  listeners: {
    https: { host: '127.0.0.1', port: Number(values.port), tls: { cert: values.cert, key: values.key } },
    http: { enabled: false },
    ops: { host: '127.0.0.1', port: 0 },
  },
  logging: { level: 'warn', accessLog: false },
  upstreams: { bench: { url: values.upstream, connections: Number(values.connections) } },
  routes: [{ id: 'bench', path: '/', upstream: 'bench', access: 'public' }],
}, { source: '(bare bench)' });
// Validates the files exist before the gateway reads them (a clearer error than ENOENT later).
await Promise.all([readFile(values.cert), readFile(values.key)]);
const limits = ratelimitSchema.parse({ edge: { rate: 1e6, periodMs: 1000, burst: 1e6 }, identity: { rate: 1e6, periodMs: 1000, burst: 1e6 } });
const limiter = new MemoryRateLimiter();
const extensions = process.env.GATEHOUSE_BENCH_RATELIMIT === '1'
  ? [{ name: 'bench-ratelimit', stages: () => ({ edgeRateLimit: createEdgeRateLimitStage(limits, { limiter }), rateLimit: createRateLimitStage(limits, { limiter }) }) }]
  : [];
const gateway = await Gateway.start({ config: loaded, watch: false, extensions });
process.stdout.write(`listening ${gateway.addresses().https.port}\n`);

let stopping = false;
const shutdown = (): void => {
  if (stopping) return;
  stopping = true;
  void gateway.stop().finally(() => rm(dataDir, { recursive: true, force: true })).finally(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
