/**
 * CPU cost per event of anomaly detection: the rules alone, and publish → bus → detect
 * extension end to end (minus the same bus without detection). CPU time
 * (process.cpuUsage), variants alternating round by round in one process.
 *
 *   node test/detect/handle-cost.bench.ts [--baseline <dir with an older src/>] [--rounds 11] [--events 20000]
 *
 * Thresholds are raised so that no rule fires: this measures the per-event path that
 * every request takes, not the (rare) actions.
 */
import { parseArgs } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { parseConfig } from '../../src/core/config/load.ts';
import type { GatewayRequestEvent } from '../../src/core/events.ts';
import type { EventBus } from '../../src/bus/types.ts';
import type { Gateway, GatewayExtension } from '../../src/gateway/gateway.ts';
import { openStore } from '../../src/store/index.ts';

const { values: args } = parseArgs({ options: { baseline: { type: 'string' }, rounds: { type: 'string', default: '11' }, events: { type: 'string', default: '20000' } } });
const rounds = Number(args.rounds);
const events = Number(args.events);

const detect = {
  denialBurst: { threshold: 1_000_000, windowMs: 60_000 },
  rateAnomaly: { minRequests: 10_000_000 },
};
const dir = await mkdtemp(join(tmpdir(), 'gatehouse-detect-bench-'));
const store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
await store.migrate();
const config = parseConfig({ dataDir: dir, instanceId: 'bench', detect }, { env: {}, source: 'bench' }).config;
const logger = pino({ level: 'silent' });

interface Tree {
  label: string;
  Rules: new (c: typeof config.detect) => { evaluate(e: { name: string; time: number; payload: unknown }): readonly unknown[] };
  MemoryEventBus: new (o: { instanceId: string }) => EventBus;
  detectExtension: (p: { config: typeof config; logger: typeof logger; store: typeof store; bus: EventBus }) => GatewayExtension;
}
const load = async (label: string, root: string): Promise<Tree> => {
  const at = (p: string) => pathToFileURL(resolve(root, p)).href;
  return {
    label,
    Rules: (await import(at('src/detect/rules.ts'))).Rules,
    MemoryEventBus: (await import(at('src/bus/memory-bus.ts'))).MemoryEventBus,
    detectExtension: (await import(at('src/detect/extension.ts'))).detectExtension,
  };
};
const trees = [await load('this tree', '.')];
if (args.baseline) trees.push(await load(args.baseline, args.baseline));

type Mix = { name: string; payload: (i: number) => GatewayRequestEvent };
const base = (i: number): GatewayRequestEvent => ({
  requestId: `0193a1b2-c3d4-7e5f-8a9b-${String(i).padStart(12, '0')}`, traceId: '4bf92f3577b34da6a3ce929d0e0e4736', routeId: 'public',
  method: 'GET', path: '/public/hello', status: 200, durationMs: 1.234, clientAddress: '127.0.0.1', stage: 'forward', bytesIn: 0, bytesOut: 512, upstreamStatus: 200,
});
const mixes: Mix[] = [
  { name: 'anonymous 200', payload: base },
  { name: 'identity 200 (100 subjects)', payload: (i) => ({ ...base(i), subject: `user-${i % 100}` }) },
  { name: 'identity 403 (100 subjects)', payload: (i) => ({ ...base(i), subject: `user-${i % 100}`, status: 403, errorCode: 'ERR_POLICY_DENIED', stage: 'authorize' }) },
];

const cpuNs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) * 1000; };
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
type Variant = { name: string; round: () => Promise<number> };
const variants: Variant[] = [];

for (const tree of trees) {
  for (const mix of mixes) {
    const rules = new tree.Rules(config.detect);
    const payloads = Array.from({ length: events }, (_, i) => mix.payload(i));
    variants.push({
      name: `${tree.label}: rules.evaluate, ${mix.name}`,
      round: async () => {
        const t0 = Date.now();
        const t = cpuNs();
        for (let i = 0; i < events; i++) rules.evaluate({ name: 'gateway.request', time: t0 + (i >> 4), payload: payloads[i] });
        return (cpuNs() - t) / events;
      },
    });
  }
  for (const withDetect of [false, true]) {
    const bus = new tree.MemoryEventBus({ instanceId: 'bench' });
    if (withDetect) await tree.detectExtension({ config, logger, store, bus }).start?.(undefined as unknown as Gateway);
    for (const mix of mixes) {
      variants.push({
        name: `${tree.label}: publish + bus${withDetect ? ' + detect' : ' (no subscriber)'}, ${mix.name}`,
        round: async () => {
          await bus.flush();
          const t = cpuNs();
          for (let i = 0; i < events; i++) bus.publish('gateway.request', mix.payload(i));
          await bus.flush();
          return (cpuNs() - t) / events;
        },
      });
    }
  }
}

const results = new Map<string, number[]>(variants.map((v) => [v.name, []]));
for (const v of variants) await v.round();
for (let r = 0; r < rounds; r++) for (const v of variants) results.get(v.name)!.push(await v.round());
console.log(`# ${events} events × ${rounds} rounds; median CPU ns per event (min–max)`);
for (const [name, xs] of results) console.log(`${median(xs).toFixed(0).padStart(7)} ns  (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})  ${name}`);
for (const tree of trees) {
  for (const mix of mixes) {
    const on = median(results.get(`${tree.label}: publish + bus + detect, ${mix.name}`)!);
    const off = median(results.get(`${tree.label}: publish + bus (no subscriber), ${mix.name}`)!);
    console.log(`${(on - off).toFixed(0).padStart(7)} ns  detection's share per event (${tree.label}, ${mix.name})`);
  }
}
await store.close();
await rm(dir, { recursive: true, force: true });
process.exit(0);
