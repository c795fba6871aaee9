/**
 * CPU cost per event of the in-process bus: publish + delivery to subscribers, and the
 * ways of giving each subscriber an immutable copy. CPU time (process.cpuUsage) rather
 * than wall time, since the machine is shared; variants alternate within one run.
 *
 *   node test/bus/publish-cost.bench.ts [--baseline <dir with an older src/>] [--rounds 15] [--events 20000]
 *
 * With --baseline, the MemoryEventBus of that tree (e.g. `git archive HEAD src | tar -x -C /tmp/base`)
 * runs alternately with this tree's.
 */
import { parseArgs } from 'node:util';
import { randomUUIDv7 } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EventBus } from '../../src/bus/types.ts';
import { MemoryEventBus } from '../../src/bus/memory-bus.ts';
import { snapshot } from '../../src/bus/snapshot.ts';
import { createEnvelope } from '../../src/bus/envelope.ts';
import { isoTime } from '../../src/bus/iso-time.ts';
import type { GatewayRequestEvent } from '../../src/core/events.ts';

const { values: args } = parseArgs({ options: { baseline: { type: 'string' }, rounds: { type: 'string', default: '15' }, events: { type: 'string', default: '20000' } } });
const rounds = Number(args.rounds);
const events = Number(args.events);

const request = (n: number): GatewayRequestEvent => ({
  requestId: `0193a1b2-c3d4-7e5f-8a9b-${String(n).padStart(12, '0')}`, traceId: '4bf92f3577b34da6a3ce929d0e0e4736', routeId: 'public',
  method: 'GET', path: '/public/hello', status: 200, durationMs: 1.234, clientAddress: '127.0.0.1', stage: 'forward', bytesIn: 0, bytesOut: 512, upstreamStatus: 200,
});

const cpuNs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) * 1000; };
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

type Variant = { name: string; round: () => Promise<number> | number };

/** CPU ns per event for a synchronous operation. */
const syncVariant = (name: string, op: (i: number) => unknown): Variant => ({
  name,
  round: () => {
    let sink = 0;
    const t = cpuNs();
    for (let i = 0; i < events; i++) if (op(i) !== undefined) sink++;
    const ns = (cpuNs() - t) / events;
    if (sink < 0) console.log(sink);
    return ns;
  },
});

/** CPU ns per event for publish + handling by `subscribers` (one live '*', the rest a durable group each). */
const busVariant = (name: string, Bus: new (o: { instanceId: string }) => EventBus, subscribers: number): Variant => {
  const bus = new Bus({ instanceId: 'bench' });
  let handled = 0;
  bus.subscribe('*', () => { handled++; });
  for (let s = 1; s < subscribers; s++) bus.subscribe(['gateway.request'], () => { handled++; }, { durable: `d${s}` });
  return {
    name,
    round: async () => {
      await bus.flush();
      const t = cpuNs();
      for (let i = 0; i < events; i++) bus.publish('gateway.request', request(i));
      await bus.flush();
      return (cpuNs() - t) / events;
    },
  };
};

function freezeDeep<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) freezeDeep(v);
    Object.freeze(value);
  }
  return value;
}

const epoch = Date.now();
const variants: Variant[] = [
  syncVariant('build payload only', (i) => request(i)),
  syncVariant('JSON.stringify(envelope) + 1× JSON.parse', (i) => JSON.parse(JSON.stringify(createEnvelope('bench', 'gateway.request', request(i))))),
  syncVariant('JSON.stringify(envelope) + 2× JSON.parse', (i) => { const j = JSON.stringify(createEnvelope('bench', 'gateway.request', request(i))); JSON.parse(j); return JSON.parse(j); }),
  syncVariant('structuredClone(payload) + deep freeze + envelope', (i) => Object.freeze(createEnvelope('bench', 'gateway.request', freezeDeep(structuredClone(request(i)))))),
  syncVariant('snapshot(payload) + frozen envelope', (i) => Object.freeze(createEnvelope('bench', 'gateway.request', snapshot(request(i)) as GatewayRequestEvent))),
  syncVariant('freeze payload in place + frozen envelope (no copy; reference)', (i) => Object.freeze(createEnvelope('bench', 'gateway.request', Object.freeze(request(i))))),
  syncVariant('randomUUIDv7()', () => randomUUIDv7()),
  syncVariant('new Date().toISOString()', () => new Date().toISOString()),
  syncVariant('isoTime(Date.now())', () => isoTime(Date.now())),
  syncVariant('isoTime, a new millisecond every call', (i) => isoTime(epoch + i)),
  busVariant('MemoryEventBus (this tree), 1 subscriber', MemoryEventBus, 1),
  busVariant('MemoryEventBus (this tree), 2 subscribers', MemoryEventBus, 2),
];
if (args.baseline) {
  const url = pathToFileURL(resolve(args.baseline, 'src/bus/memory-bus.ts')).href;
  const { MemoryEventBus: Base } = await import(url) as { MemoryEventBus: new (o: { instanceId: string }) => EventBus };
  variants.push(busVariant(`MemoryEventBus (${args.baseline}), 1 subscriber`, Base, 1));
  variants.push(busVariant(`MemoryEventBus (${args.baseline}), 2 subscribers`, Base, 2));
}

const results = new Map<string, number[]>(variants.map((v) => [v.name, []]));
// Warm-up round, then variants alternate round by round.
for (const v of variants) await v.round();
for (let r = 0; r < rounds; r++) for (const v of variants) results.get(v.name)!.push(await v.round());
console.log(`# ${events} events × ${rounds} rounds; median CPU ns per event (min–max)`);
for (const [name, xs] of results) console.log(`${median(xs).toFixed(0).padStart(7)} ns  (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})  ${name}`);
