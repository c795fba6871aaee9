/**
 * Reads a V8 .cpuprofile (from --cpu-prof) and prints the functions with the most self
 * and inclusive time, so that a profile of the gateway under load can be read without a
 * browser. Time is summed from `timeDeltas` per sampled node, then per call frame
 * (function + url + line); inclusive time counts a frame once per sample even when it
 * recurses.
 *
 * Usage: node test/bench/profile-summary.ts FILE.cpuprofile [--top 40] [--filter substring] [--requests N]
 * With --requests (the number of requests the profiled process served) times are also shown
 * in µs per request.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Frame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: Frame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '40' }, filter: { type: 'string' }, requests: { type: 'string' } } });
const profile = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as Profile;

const byId = new Map<number, ProfileNode>();
const parent = new Map<number, number>();
for (const n of profile.nodes) {
  byId.set(n.id, n);
  for (const c of n.children ?? []) parent.set(c, n.id);
}
const key = (f: Frame): string => `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${f.lineNumber + 1}`;

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
let idle = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i + 1] ?? 0; // a sample's time is the delta to the next one
  let id: number | undefined = profile.samples[i]!;
  const leaf = byId.get(id)!;
  total += dt;
  if (leaf.callFrame.functionName === '(idle)') { idle += dt; continue; }
  self.set(key(leaf.callFrame), (self.get(key(leaf.callFrame)) ?? 0) + dt);
  const seen = new Set<string>();
  while (id !== undefined) {
    const k = key(byId.get(id)!.callFrame);
    if (!seen.has(k)) { seen.add(k); inclusive.set(k, (inclusive.get(k) ?? 0) + dt); }
    id = parent.get(id);
  }
}
const busy = total - idle;
const top = Number(values.top);
const requests = values.requests ? Number(values.requests) : undefined;
process.stdout.on('error', () => process.exit(0)); // `| head`
const print = (title: string, m: Map<string, number>): void => {
  process.stdout.write(`\n${title} (% of busy time ${(busy / 1000).toFixed(0)} ms${requests ? ` = ${(busy / requests).toFixed(1)} µs/req` : ''}; idle ${(idle / 1000).toFixed(0)} ms)\n`);
  const rows = [...m].filter(([k]) => !values.filter || k.includes(values.filter)).sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [k, v] of rows) process.stdout.write(`${(100 * v / busy).toFixed(2).padStart(6)}%  ${(v / 1000).toFixed(1).padStart(8)} ms${requests ? ` ${(v / requests).toFixed(2).padStart(7)} µs/req` : ''}  ${k}\n`);
};
print('self', self);
print('inclusive', inclusive);
