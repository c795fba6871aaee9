/**
 * In-process A/B of the bare gateway's whole per-request path, between this tree and another
 * tree's src/ (e.g. a `git worktree` of HEAD with a node_modules symlink): the request
 * context, every stage of the bare pipeline (no components), the upstream exchange driven by a
 * fake dispatcher that answers at once (200, nginx's five response headers, a 2-byte body),
 * the response head and body written to a socket that discards them, and the recording on
 * 'close'. Node's own IncomingMessage/ServerResponse work is in both variants alike, so the
 * difference is Gatehouse's; undici's (Request building, HTTP parsing) is in neither.
 *
 * For a machine too busy for throughput figures: CPU µs per request (process.cpuUsage, all
 * threads, over many short alternating batches; the median of each variant and the median
 * of its per-batch difference from 'before') and heap bytes allocated per request (a young
 * generation large enough that no scavenge runs while counting).
 *
 * Usage: node --expose-gc --max-semi-space-size=64 --min-semi-space-size=64
 *          test/bench/gateway-path-micro.ts --before DIR/src [--batches 15] [--ops 20000] [--only NAME]
 * --only runs one variant (before, after or 'node only'), e.g. under --cpu-prof.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { getHeapStatistics } from 'node:v8';
import { loadavg, tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const { values } = parseArgs({ options: { before: { type: 'string' }, batches: { type: 'string', default: '15' }, ops: { type: 'string', default: '20000' }, only: { type: 'string' } } });
const gc = (globalThis as { gc?: () => void }).gc;
if (!values.before || !gc) {
  process.stderr.write('usage: node --expose-gc test/bench/gateway-path-micro.ts --before DIR/src [--batches N] [--ops N]\n');
  process.exit(2);
}
const trees: Record<string, string> = { before: values.before, after: fileURLToPath(new URL('../../src', import.meta.url)) };
const batches = Number(values.batches);
const ops = Number(values.ops);
const variants: Record<string, () => void> = {};

// What the proxy's socket does with bytes here: nothing.
class Sink extends Writable {
  override _write(_chunk: unknown, _encoding: string, callback: () => void): void { callback(); }
  override _writev(_chunks: unknown, callback: () => void): void { callback(); }
}

for (const [tree, root] of Object.entries(trees)) {
  const { RequestContext } = await import(`${root}/gateway/context.ts`);
  const { buildGeneration } = await import(`${root}/gateway/generation.ts`);
  const { RequestMetrics } = await import(`${root}/gateway/request-metrics.ts`);
  const { runPipeline } = await import(`${root}/gateway/pipeline/run.ts`);
  const { recordRequest } = await import(`${root}/gateway/pipeline/record.ts`);
  const { parseConfig } = await import(`${root}/core/config/load.ts`);
  const { createMetrics } = await import(`${root}/observability/metrics.ts`);
  const { createLogger } = await import(`${root}/observability/logger.ts`);
  const loaded = parseConfig({
    dataDir: tmpdir(),
    listeners: { https: { host: '127.0.0.1', port: 0 }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } },
    logging: { level: 'warn', accessLog: false },
    upstreams: { bench: { url: 'http://127.0.0.1:9', connections: 256 } },
    routes: [{ id: 'bench', path: '/', upstream: 'bench', access: 'public' }],
  }, { source: '(micro)' });
  const logger = createLogger({ level: 'warn' });
  const record = (ctx: unknown): void => { recordRequest(ctx, undefined); };
  const built = buildGeneration(loaded.config, 1, undefined, [], { metrics: new RequestMetrics(createMetrics({ defaultMetrics: false })), logger, record });
  await built.upstreams.get('bench').pool.close();
  const body = Buffer.from('ok');
  const controller = { abort(): void {}, pause(): void {}, resume(): void {} };
  // undici calls the handler in this order; the headers object is a new one per response.
  const pool = {
    dispatch(_options: unknown, handler: { onRequestStart(c: unknown, x: unknown): void; onResponseStart(c: unknown, s: number, h: unknown, m: string): void; onResponseData(c: unknown, b: Buffer): void; onResponseEnd(c: unknown, t: unknown): void }): boolean {
      handler.onRequestStart(controller, {});
      handler.onResponseStart(controller, 200, { server: 'nginx/1.22.1', date: 'Sun, 22 Nov 2026 10:00:00 GMT', 'content-type': 'text/plain', 'content-length': '2', connection: 'keep-alive' }, 'OK');
      handler.onResponseData(controller, body);
      handler.onResponseEnd(controller, {});
      return true;
    },
  };
  const gen = { ...built, upstreams: new Map([['bench', { ...built.upstreams.get('bench'), pool, byConnectMs: new Map([[5_000, pool]]) }]]) };
  const peer = new Socket();
  Object.defineProperty(peer, 'remoteAddress', { value: '127.0.0.1' });
  const sink = new Sink();
  const closed = (ctx: { closed: boolean; exchange?: { onClientClose(): void } }): void => {
    if (ctx.closed) return;
    ctx.closed = true;
    record(ctx);
    ctx.exchange?.onClientClose();
  };
  // The same request answered without Gatehouse (as minimal-proxy.ts does, minus undici), to
  // read Gatehouse's share off by difference.
  if (tree === 'after') {
    variants['node only'] = () => {
      const req = new IncomingMessage(peer);
      req.method = 'GET';
      req.url = '/';
      req.headers = { host: '127.0.0.1:8443' };
      req.rawHeaders = ['Host', '127.0.0.1:8443'];
      req.complete = true;
      const res = new ServerResponse(req);
      res.assignSocket(sink as never);
      res.writeHead(200, { server: 'nginx/1.22.1', date: 'Sun, 22 Nov 2026 10:00:00 GMT', 'content-type': 'text/plain', 'content-length': '2' });
      res.write(body);
      res.end();
      res.detachSocket(sink as never);
      res.emit('close');
    };
  }
  variants[tree] = () => {
    // What wrk sends: GET / with a Host header only.
    const req = new IncomingMessage(peer);
    req.method = 'GET';
    req.url = '/';
    req.headers = { host: '127.0.0.1:8443' };
    req.rawHeaders = ['Host', '127.0.0.1:8443'];
    req.complete = true;
    const res = new ServerResponse(req);
    res.assignSocket(sink as never);
    const ctx = new RequestContext(req, res, gen);
    res.on('close', () => closed(ctx));
    // The tree before the stage-name list passed (and ignores) the third argument.
    runPipeline(ctx, gen.stages, gen.stageNames);
    res.detachSocket(sink as never);
    res.emit('close');
  };
}

const cpuUs = (): number => { const u = process.cpuUsage(); return u.user + u.system; };
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const names = Object.keys(variants).filter((n) => values.only === undefined || n === values.only);
const samples = new Map<string, number[]>(names.map((n) => [n, []]));
const bytes = new Map<string, number>();
// Requests run in chunks with a turn of the event loop between them, so that the
// process.nextTick work they queue (stream callbacks) runs, and counts, as it would.
const CHUNK = 100;
const run = async (fn: () => void, count: number): Promise<void> => {
  for (let k = 0; k < count; k += CHUNK) {
    for (let j = 0; j < CHUNK; j++) fn();
    await new Promise((r) => setImmediate(r));
  }
};
for (const n of names) {
  const fn = variants[n]!;
  await run(fn, ops); // warm-up (JIT)
  gc();
  const before = getHeapStatistics().used_heap_size;
  await run(fn, 10_000);
  bytes.set(n, (getHeapStatistics().used_heap_size - before) / 10_000);
}
// No GC between batches: the collector's background threads would still be sweeping
// during the next batch, which process.cpuUsage counts.
for (let b = 0; b < batches; b++) {
  for (const n of (b % 2 ? [...names].reverse() : names)) {
    const fn = variants[n]!;
    const start = cpuUs();
    await run(fn, ops);
    samples.get(n)!.push((cpuUs() - start) / ops);
  }
}
process.stdout.write(`conditions: ${batches} alternating batches of ${ops} requests per variant, CPU µs/request median (min–max), and the median of the per-batch differences from 'before' (neighbouring batches share the machine's state, so pairing them cancels most drift); loadavg ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
const base = samples.get('before');
for (const n of names) {
  const xs = samples.get(n)!;
  const paired = base !== undefined && n !== 'before' ? `  ${median(xs.map((x, b) => x - base[b]!)) >= 0 ? '+' : ''}${median(xs.map((x, b) => x - base[b]!)).toFixed(3)} µs vs before` : '';
  process.stdout.write(`  ${n.padEnd(9)} ${median(xs).toFixed(3)} µs (${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)})  ${bytes.get(n)!.toFixed(0)} bytes allocated${paired}\n`);
}
process.exit(0);
