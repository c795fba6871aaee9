/**
 * Back-to-back A/B of proxies that take minimal-proxy.ts's command line (the minimal Node
 * proxy, the bare gateway, a bare gateway from another tree…) in front of one nginx
 * upstream. Load (wrk, one thread) and upstream share CPU 0, the proxies CPU 1. Each round
 * runs every target once, in turn (reversed every other round), so that a neighbour's load spreads over all of them;
 * besides req/s and p99 it reports the proxy process's CPU time per request (user + system
 * from /proc, all threads), which a busy machine disturbs much less than throughput.
 *
 * Usage: node test/bench/bare-ab.ts [--rounds 3] [--duration 5] [--connections 100]
 *          [--target name=script.ts …] [--profile name]
 * Default targets: minimal=test/bench/minimal-proxy.ts, bare=test/bench/bare-gateway.ts.
 * --profile NAME[,NAME] runs those targets with --cpu-prof into test/bench/results/profiles/bare-ab/.
 * --config NAME=JSON hands JSON to that target as GATEHOUSE_BENCH_CONFIG (composed-gateway.ts
 * merges it over its config), e.g. --target off=test/bench/composed-gateway.ts --config 'off={"audit":{"enabled":false}}'.
 * --threads also prints each target's CPU per request by thread name (main thread, libuv's
 * thread pool, V8's platform workers, worker threads), summed over all rounds.
 * --node-flags NAME=FLAGS runs that target's node with those flags (space-separated), e.g.
 * --node-flags 'bare=--single-threaded-gc --max-semi-space-size=32'.
 * --pin-thread NAME=CPU moves every thread of a target named NAME (`comm`, e.g. audit-commit) to
 * that CPU before each round (the rest of the process stays on CPU 1); TARGET:NAME=CPU does so
 * for one target only, e.g. --pin-thread on2:libuv-worker=0.
 * Not a test and no server runs in this process, so it waits on its children synchronously.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { pinNamedThreads } from './lib/threads.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '100' },
    target: { type: 'string', multiple: true },
    profile: { type: 'string' },
    config: { type: 'string', multiple: true },
    threads: { type: 'boolean', default: false },
    'pin-thread': { type: 'string', multiple: true },
    'node-flags': { type: 'string', multiple: true },
  },
});
const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const targets = (values.target ?? ['minimal=test/bench/minimal-proxy.ts', 'bare=test/bench/bare-gateway.ts']).map((t) => {
  const eq = t.indexOf('=');
  return { name: t.slice(0, eq), script: resolve(repo, t.slice(eq + 1)) };
});
const node = join(repo, 'node_modules/.bin/node');
const configs = new Map((values.config ?? []).map((c) => [c.slice(0, c.indexOf('=')), c.slice(c.indexOf('=') + 1)]));
const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-ab-'));
const children: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((r) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => r(p)); }); });
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15)
}

/** CPU ticks (utime + stime) of each thread of a process, summed by thread name (`comm`). */
function threadTicks(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try { stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'); } catch { continue; } // the thread ended
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/[0-9]+$/, '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    byName.set(name, (byName.get(name) ?? 0) + Number(fields[11]) + Number(fields[12]));
  }
  return byName;
}

const nodeFlags = new Map((values['node-flags'] ?? []).map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1).split(' ').filter(Boolean)]));
/** Pins by target: `TARGET:NAME=CPU` for one target, `NAME=CPU` for every target. */
const pinSpecs = (values['pin-thread'] ?? []).map((p) => {
  const eq = p.indexOf('=');
  const colon = p.lastIndexOf(':', eq);
  return { target: colon === -1 ? undefined : p.slice(0, colon), thread: p.slice(colon + 1, eq), cpu: Number(p.slice(eq + 1)) };
});
const pinsOf = (target: string): Map<string, number> =>
  new Map(pinSpecs.filter((p) => p.target === undefined || p.target === target).map((p) => [p.thread, p.cpu]));

function waitFor(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((res, rej) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d; const m = pattern.exec(out); if (m) res(m[1]!); });
    child.once('exit', (code) => rej(new Error(`exited ${code}: ${out}`)));
  });
}

function wrk(url: string, seconds: number): { rps: number; p99: number; requests: number; errors: number } {
  const out = execFileSync('taskset', ['-c', '0', 'wrk', '-t1', '-c', values.connections!, '-d', `${seconds}s`, '--timeout', '5s',
    '-s', join(repo, 'test/bench/lib/wrk-report.lua'), url], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.startsWith('GATEHOUSE_WRK_JSON '))!;
  const r = JSON.parse(line.slice('GATEHOUSE_WRK_JSON '.length)) as { durationUs: number; requests: number; errors: Record<string, number>; latencyUs: { p99: number } };
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  return { rps: r.requests / (r.durationUs / 1e6), p99: r.latencyUs.p99 / 1000, requests: r.requests, errors };
}

try {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(tmp, 'key.pem'), '-out', join(tmp, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  const upstreamPort = await freePort();
  mkdirSync(join(tmp, 'nginx'));
  writeFileSync(join(tmp, 'nginx/nginx.conf'), `daemon off; master_process on; worker_processes 1; pid ${tmp}/nginx/pid; error_log ${tmp}/nginx/error.log warn;
events { worker_connections 8192; }
http { access_log off; client_body_temp_path ${tmp}/nginx/b; proxy_temp_path ${tmp}/nginx/p; fastcgi_temp_path ${tmp}/nginx/f; uwsgi_temp_path ${tmp}/nginx/u; scgi_temp_path ${tmp}/nginx/s;
  keepalive_requests 10000000; keepalive_timeout 75s;
  server { listen 127.0.0.1:${upstreamPort} backlog=4096; location / { return 200 "ok"; } } }
`);
  const nginx = spawn('taskset', ['-c', '0', 'nginx', '-p', join(tmp, 'nginx'), '-c', join(tmp, 'nginx/nginx.conf'), '-e', join(tmp, 'nginx/error.log')], { stdio: 'ignore' });
  children.push(nginx);
  const running: { name: string; url: string; pid: number }[] = [];
  for (const t of targets) {
    const port = await freePort();
    const prof = (values.profile ?? '').split(',').includes(t.name) ? ['--cpu-prof', '--cpu-prof-dir', join(repo, 'test/bench/results/profiles/bare-ab')] : [];
    const child = spawn('taskset', ['-c', '1', node, ...prof, ...(nodeFlags.get(t.name) ?? []), t.script, '--port', String(port), '--upstream', `http://127.0.0.1:${upstreamPort}`,
      '--cert', join(tmp, 'cert.pem'), '--key', join(tmp, 'key.pem'), '--connections', '256'], { stdio: ['ignore', 'pipe', 'inherit'], cwd: repo, env: { ...process.env, GATEHOUSE_BENCH_CONFIG: configs.get(t.name) ?? '{}' } });
    children.push(child);
    await waitFor(child, /listening (\d+)/);
    running.push({ name: t.name, url: `https://127.0.0.1:${port}/`, pid: child.pid! });
  }
  const seconds = Number(values.duration);
  const served = new Map<string, number>();
  for (const r of running) served.set(r.name, wrk(r.url, 2).requests); // warm-up: JIT, pools, TLS sessions
  process.stdout.write(`conditions: wrk -t1 -c${values.connections} -d${seconds}s on CPU 0 with nginx upstream; proxies on CPU 1; loadavg ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
  const base = running[0]!.name;
  const ratios = new Map<string, number[]>();
  const extraCpu = new Map<string, number[]>();
  const threadCpu = new Map<string, { ticks: Map<string, number>; requests: number }>();
  for (let round = 1; round <= Number(values.rounds); round++) {
    const row: Record<string, { rps: number; p99: number; cpuUs: number; errors: number }> = {};
    // Every other round runs the targets in reverse: whichever ran second had measured faster in
    // both orders of one A/B (the machine warming up, or a neighbour's rhythm), which a fixed order pins on one target.
    for (const r of round % 2 === 1 ? running : [...running].reverse()) {
      const pins = pinsOf(r.name);
      if (pins.size) pinNamedThreads(r.pid, pins);
      const before = cpuTicks(r.pid);
      const threadsBefore = values.threads ? threadTicks(r.pid) : undefined;
      const w = wrk(r.url, seconds);
      const cpuUs = ((cpuTicks(r.pid) - before) * 1e6 / 100) / w.requests; // 100 ticks per second
      if (threadsBefore) {
        const acc = threadCpu.get(r.name) ?? threadCpu.set(r.name, { ticks: new Map(), requests: 0 }).get(r.name)!;
        for (const [name, t] of threadTicks(r.pid)) acc.ticks.set(name, (acc.ticks.get(name) ?? 0) + t - (threadsBefore.get(name) ?? 0));
        acc.requests += w.requests;
      }
      row[r.name] = { rps: w.rps, p99: w.p99, cpuUs, errors: w.errors };
      served.set(r.name, served.get(r.name)! + w.requests);
    }
    const parts = running.map((r) => [r.name, row[r.name]!] as const).map(([n, v]) => `${n} ${Math.round(v.rps)} req/s p99 ${v.p99.toFixed(1)} ms cpu ${v.cpuUs.toFixed(1)} µs/req${v.errors ? ` errors ${v.errors}` : ''}${n === base ? '' : ` (×${(v.rps / row[base]!.rps).toFixed(3)}, +${(v.cpuUs - row[base]!.cpuUs).toFixed(1)} µs)`}`);
    process.stdout.write(`round ${round}: ${parts.join(' | ')}\n`);
    for (const [n, v] of Object.entries(row)) {
      if (n === base) continue;
      (ratios.get(n) ?? ratios.set(n, []).get(n)!).push(v.rps / row[base]!.rps);
      (extraCpu.get(n) ?? extraCpu.set(n, []).get(n)!).push(v.cpuUs - row[base]!.cpuUs);
    }
  }
  // Medians: one disturbed round (a neighbour's burst) does not move them.
  const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
  for (const [n, xs] of ratios) process.stdout.write(`median ${n}÷${base}: ×${median(xs).toFixed(3)} req/s, ${median(extraCpu.get(n)!) >= 0 ? '+' : ''}${median(extraCpu.get(n)!).toFixed(1)} µs CPU/req\n`);
  for (const [n, { ticks, requests }] of threadCpu) {
    const parts = [...ticks].filter(([, t]) => t > 0).sort((a, b) => b[1] - a[1]).map(([name, t]) => `${name} ${(t * 1e6 / 100 / requests).toFixed(1)}`);
    process.stdout.write(`threads ${n} (µs CPU/req): ${parts.join(', ')}\n`);
  }
  // For dividing a profile's totals into per-request figures (profile-summary.ts --requests).
  process.stdout.write(`requests served (warm-up included): ${[...served].map(([n, c]) => `${n} ${c} (pid ${running.find((r) => r.name === n)!.pid})`).join(', ')}\n`);
} finally {
  for (const c of children.reverse()) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, values.profile ? 4000 : 1500));
  rmSync(tmp, { recursive: true, force: true });
}
