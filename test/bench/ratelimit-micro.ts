/**
 * In-process A/B of the two rate-limit stages as the default composition runs them (edge
 * per client address, then per identity and route, memory limiter, limits never reached,
 * the forwarded response's header list built after them), between this tree and another
 * tree's src/ — e.g. `git archive <commit> src | tar -x -C /tmp/before`, with a
 * node_modules symlink next to it. Reports CPU µs per request (process.cpuUsage, median of
 * alternating batches, each after a full GC) and heap bytes allocated per request (a young
 * generation large enough that no scavenge runs while counting).
 *
 * Usage: node --expose-gc --max-semi-space-size=64 --min-semi-space-size=64
 *          test/bench/ratelimit-micro.ts --before /tmp/before/src [--batches 15] [--ops 20000]
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { getHeapStatistics } from 'node:v8';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const { values } = parseArgs({ options: { before: { type: 'string' }, batches: { type: 'string', default: '15' }, ops: { type: 'string', default: '20000' } } });
const gc = (globalThis as { gc?: () => void }).gc;
if (!values.before || !gc) {
  process.stderr.write('usage: node --expose-gc test/bench/ratelimit-micro.ts --before DIR/src [--batches N] [--ops N]\n');
  process.exit(2);
}
const trees: Record<string, string> = { before: values.before, after: fileURLToPath(new URL('../../src', import.meta.url)) };
const batches = Number(values.batches);
const ops = Number(values.ops);
const variants: Record<string, () => void> = {};

for (const [tree, root] of Object.entries(trees)) {
  const { RequestContext } = await import(`${root}/gateway/context.ts`);
  const { createEdgeRateLimitStage } = await import(`${root}/gateway/pipeline/edge-rate-limit.ts`);
  const { createRateLimitStage } = await import(`${root}/gateway/pipeline/rate-limit.ts`);
  const { ratelimitSchema } = await import(`${root}/core/config/ratelimit-schema.ts`);
  const { MemoryRateLimiter } = await import(`${root}/ratelimit/memory-limiter.ts`);
  const { responseHeaders } = await import(`${root}/gateway/upstream/response-headers.ts`);
  const limits = ratelimitSchema.parse({ edge: { rate: 1e6, periodMs: 1000, burst: 1e6 }, identity: { rate: 1e6, periodMs: 1000, burst: 1e6 } });
  const limiter = new MemoryRateLimiter();
  const edge = createEdgeRateLimitStage(limits, { limiter });
  const rateLimit = createRateLimitStage(limits, { limiter });
  const req = new IncomingMessage(new Socket());
  const res = new ServerResponse(req);
  const route = { id: 'bench' };
  const identity = { subject: 'alice', kind: 'user', roles: [], method: 'jwt', amr: [], authTime: undefined, mfaTime: undefined, credentialId: undefined, issuer: 'https://idp.example', attributes: {} };
  const upstream = { 'content-type': 'text/plain', 'content-length': '2', date: 'Sun, 22 Nov 2026 10:00:00 GMT', server: 'nginx' };
  const addresses = Array.from({ length: 100 }, (_, k) => `203.0.113.${k}`);
  let i = 0;
  const request = (authenticated: boolean, limited = true): void => {
    const ctx = new RequestContext(req, res, {});
    ctx.clientAddress = addresses[i++ % 100]!;
    ctx.route = route;
    if (authenticated) ctx.identity = identity;
    if (limited) {
      edge(ctx);
      rateLimit(ctx);
    }
    responseHeaders(upstream, 'b7f3c1de-0c4a-4e0e-9a7e-2f1d6c5b4a39', ctx.responseHeaders);
  };
  // What the same request costs without the stages, to read theirs off by difference.
  if (tree === 'after') variants['no rate limit'] = () => request(false, false);
  variants[`${tree}: public route`] = () => request(false);
  variants[`${tree}: authenticated`] = () => request(true);
}

const cpuUs = (): number => { const u = process.cpuUsage(); return u.user + u.system; };
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const names = Object.keys(variants);
const samples = new Map<string, number[]>(names.map((n) => [n, []]));
const bytes = new Map<string, number>();
for (const n of names) {
  const fn = variants[n]!;
  for (let k = 0; k < ops; k++) fn(); // warm-up (JIT)
  gc();
  const before = getHeapStatistics().used_heap_size;
  for (let k = 0; k < 10_000; k++) fn();
  bytes.set(n, (getHeapStatistics().used_heap_size - before) / 10_000);
}
for (let b = 0; b < batches; b++) {
  for (const n of (b % 2 ? [...names].reverse() : names)) {
    gc();
    const fn = variants[n]!;
    const start = cpuUs();
    for (let k = 0; k < ops; k++) fn();
    samples.get(n)!.push((cpuUs() - start) / ops);
  }
}
process.stdout.write(`conditions: ${batches} alternating batches of ${ops} requests per variant, CPU µs/request median (min–max); loadavg ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
for (const n of names) {
  const xs = samples.get(n)!;
  process.stdout.write(`  ${n.padEnd(28)} ${median(xs).toFixed(3)} µs (${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)})  ${bytes.get(n)!.toFixed(0)} bytes allocated\n`);
}
process.exit(0);
