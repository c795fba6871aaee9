/**
 * Gatehouse as `gatehouse start` composes it (audit, detection, rate limiters, IdP, CA, per
 * the config), behind minimal-proxy.ts's command line so that bare-ab.ts can run it back to
 * back with the other targets. GATEHOUSE_BENCH_CONFIG (JSON) is merged over the generated
 * config, e.g. '{"audit":{"enabled":false}}'; the rate limits are far above any load, as in
 * `npm run bench`.
 *
 * Usage: node test/bench/composed-gateway.ts --port P --upstream URL --cert C --key K [--connections 256]
 * Prints "listening <port>" once it accepts connections; SIGTERM stops it gracefully.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Gateway } from '../../src/gateway/gateway.ts';
import { composeExtensions } from '../../src/gateway/compose.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import { merge } from './lib/gatehouse.ts';

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
  process.stderr.write('usage: composed-gateway.ts --port P --upstream URL --cert FILE --key FILE [--connections N]\n');
  process.exit(2);
}

const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-composed-'));
const unlimited = { rate: 1_000_000, periodMs: 1000, burst: 1_000_000 };
const base = {
  dataDir,
  listeners: {
    https: { host: '127.0.0.1', port: Number(values.port), tls: { cert: values.cert, key: values.key } },
    http: { enabled: false },
    ops: { host: '127.0.0.1', port: 0 },
  },
  logging: { level: 'warn', accessLog: false },
  upstreams: { bench: { url: values.upstream, connections: Number(values.connections) } },
  routes: [{ id: 'bench', path: '/', upstream: 'bench', access: 'public' }],
  ratelimit: { edge: { ...unlimited }, identity: { ...unlimited } },
};
const over = JSON.parse(process.env.GATEHOUSE_BENCH_CONFIG ?? '{}') as Record<string, unknown>;
const loaded = parseConfig(merge(base, over), { source: '(composed bench)' });
const gateway = await Gateway.start({ config: loaded, watch: false, compose: composeExtensions });
process.stdout.write(`listening ${gateway.addresses().https.port}\n`);

let stopping = false;
const shutdown = (): void => {
  if (stopping) return;
  stopping = true;
  void gateway.stop().finally(() => rm(dataDir, { recursive: true, force: true })).finally(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
