/**
 * Policy section: decision latency (p50/p99) of the Cedar policy engine with 10, 100 and
 * 1 000 policies, uncached (every call evaluates) and cached (the decision cache answers).
 *
 * `run()` measures in the current process; the registered section runs this file in a
 * child pinned to the proxy CPU (`node test/bench/sections/policy.ts [--quick]` prints JSON).
 */
import { fileURLToPath } from 'node:url';
import { PolicyEngine } from '../../../src/policy/engine.ts';
import type { AuthorizationRequest } from '../../../src/policy/types.ts';
import type { BenchContext, Section, SectionResult } from '../lib/section.ts';
import { fixed, table } from '../lib/markdown.ts';
import { measureGatewayPolicy } from './policy-gateway.ts';

interface Figure { policies: number; mode: 'uncached' | 'uncached-unsplit' | 'cached'; samples: number; p50Us: number; p99Us: number; perSecond: number; hitRate: number }

/** Deterministic pseudo-random numbers, so runs compare. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A mix of role-based permits with a path condition, an attribute check, and one forbid per ten. */
function policies(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 10 === 9) out.push(`@id("f${i}") forbid(principal in Gatehouse::Role::"role-${i}", action == Gatehouse::Action::"DELETE", resource);`);
    else out.push(`@id("p${i}") permit(principal in Gatehouse::Role::"role-${i}", action in [Gatehouse::Action::"GET", Gatehouse::Action::"POST"], resource == Gatehouse::Route::"route-${i % 50}") when { context.path like "/r${i % 50}/*" && (principal has level && principal.level > ${i % 5}) };`);
  }
  return out.join('\n');
}

function requests(n: number, count: number, seed: number): AuthorizationRequest[] {
  const r = rng(seed);
  const pick = (k: number) => Math.floor(r() * k);
  const out: AuthorizationRequest[] = [];
  for (let i = 0; i < count; i++) {
    const route = pick(50);
    out.push({
      policySet: 'bench',
      principal: { kind: 'user', id: `user-${pick(1000)}`, roles: [`role-${pick(n)}`, `role-${pick(n)}`, `role-${pick(n)}`], attributes: { level: pick(6), email: 'x@example.com' } },
      action: ['GET', 'POST', 'DELETE'][pick(3)]!,
      resource: { routeId: `route-${route}`, upstream: 'app' },
      context: { path: `/r${route}/items/${pick(20)}`, clientAddress: `10.0.${pick(256)}.${pick(256)}`, authMethod: 'session', amr: ['pwd'] },
    });
  }
  return out;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function measure(engine: PolicyEngine, reqs: AuthorizationRequest[], samples: number): { p50Us: number; p99Us: number; perSecond: number } {
  const times = new Float64Array(samples);
  const start = process.hrtime.bigint();
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    engine.authorize(reqs[i % reqs.length]!);
    times[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  const totalS = Number(process.hrtime.bigint() - start) / 1e9;
  times.sort();
  return { p50Us: percentile(times, 0.5), p99Us: percentile(times, 0.99), perSecond: samples / totalS };
}

/** Measures in this process and returns the figures. */
export async function run(options: { quick?: boolean } = {}): Promise<object> {
  const figures: Figure[] = [];
  for (const n of [10, 100, 1000]) {
    const text = policies(n);
    const samples = options.quick ? 500 : n >= 1000 ? 3000 : 10_000;
    const reqs = requests(n, 2000, n);
    // Split (the default: only policies whose scope can match the route and action) and the
    // whole set on every call, in the same run, so the difference is not machine noise.
    for (const split of [true, false]) {
      const uncached = new PolicyEngine({ cacheSize: 0, recentDecisions: 0, split });
      uncached.load('bench', { policies: text });
      measure(uncached, reqs, Math.min(500, samples)); // warm-up (JIT, wasm tiers, preparsed subsets)
      // The unsplit 1 000-policy case costs milliseconds a call: fewer samples keep the section short.
      const k = split || n < 1000 ? samples : Math.min(samples, 1000);
      figures.push({ policies: n, mode: split ? 'uncached' : 'uncached-unsplit', samples: k, ...measure(uncached, reqs, k), hitRate: 0 });
    }

    // Cached: a working set of 200 distinct requests, as from a few hundred active users.
    const cached = new PolicyEngine({ recentDecisions: 0 });
    cached.load('bench', { policies: text });
    const working = requests(n, 200, n + 1);
    for (const r of working) cached.authorize(r);
    const cachedSamples = options.quick ? 5000 : 100_000;
    const m = measure(cached, working, cachedSamples);
    figures.push({ policies: n, mode: 'cached', samples: cachedSamples, ...m, hitRate: cached.cacheStats().hitRate });
  }
  return { figures, note: 'decisions of PolicyEngine.authorize in one process; includes entity/context building and decision ids' };
}

export const policySection: Section = {
  name: 'policy',
  description: 'policy decision latency p50/p99 with 10, 100 and 1 000 Cedar policies, cached, uncached (split by route/action) and uncached unsplit; gateway req/s public route vs authn + policy + assertion',
  async run(ctx: BenchContext): Promise<SectionResult> {
    ctx.log('policy: measuring decisions in a pinned child');
    const file = fileURLToPath(import.meta.url);
    const { code, output } = await ctx.processes.run('policy', ctx.nodeBin, [file, ...(ctx.options.quick ? ['--quick'] : [])], { cpu: ctx.cpus.proxy, cwd: ctx.repoRoot });
    if (code !== 0) throw new Error(`policy bench failed: ${output}`);
    const data = JSON.parse(output.slice(output.indexOf('{'))) as { figures: Figure[] };
    const rows = data.figures.map((f) => [String(f.policies), f.mode, fixed(f.p50Us, 1), fixed(f.p99Us, 1), fixed(f.perSecond, 0), f.mode === 'cached' ? `${fixed(f.hitRate * 100, 1)} %` : '—']);
    ctx.log('policy: gateway throughput, public route vs authentication + policy + assertion');
    const gateway = await measureGatewayPolicy(ctx);
    const gatewayMarkdown = gateway.available
      ? '\n\n' + table(['route (same Gatehouse, same run)', 'connections', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'Gatehouse CPU %'],
        gateway.figures.map((f) => [f.route, String(f.connections), fixed(f.requestsPerSecond, 0), fixed(f.p50Ms, 2), fixed(f.p99Ms, 2), String(f.non2xx), f.proxyCpuPercent === null ? '—' : fixed(f.proxyCpuPercent, 0)]))
        + '\n\nOne Gatehouse, two routes to the same upstream, measured alternately (two rounds): the public route (no authentication, no policy) and a route that needs a client-credentials JWT from Gatehouse\'s IdP, decides it with a Cedar policy and signs the identity assertion for the upstream. One token for every request: the verified-token and decision caches answer after the first.'
      : `\n\nGateway throughput with policy: not measured (${gateway.reason}).`;
    const markdown = table(['policies', 'mode', 'p50 µs', 'p99 µs', 'decisions/s (1 core)', 'cache hit rate'], rows)
      + '\n\nOne `PolicyEngine.authorize` call per sample, in one process pinned to one CPU: entity and context building, the Cedar evaluation (wasm) or the cache lookup, and the decision id. '
      + '`uncached` evaluates only the policies whose scope can match the route and action (the default); `uncached-unsplit` evaluates the whole set on every call (`split: false`), for comparison. '
      + 'The workload: permits per route (50 routes) with a path and an attribute condition, one forbid on DELETE per ten policies.';
    return { markdown: markdown + gatewayMarkdown, data: { ...data, gateway } };
  },
};

if (import.meta.main) {
  process.stdout.write(JSON.stringify(await run({ quick: process.argv.includes('--quick') })) + '\n');
}
