/**
 * Part of the policy section: gateway throughput on a route with authentication (a
 * client-credentials JWT from Gatehouse's own IdP), policy (Cedar, one permit) and the
 * signed identity assertion, against the public (bare proxy) route of the same Gatehouse
 * process, in the same run, with wrk at the same concurrency.
 *
 * The token is one bearer token reused by every request, so after the first request the
 * verified-token cache and the decision cache answer: this is the steady state of a
 * service calling another, not the cost of a cold decision (the in-process figures above
 * give that).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { openStore } from '../../../src/store/open-store.ts';
import { IdentityClientsRepo } from '../../../src/store/repos/identity-clients-repo.ts';
import { IdentityUsersRepo } from '../../../src/store/repos/identity-users-repo.ts';
import { AccountService } from '../../../src/identity/accounts/account-service.ts';
import type { BenchContext } from '../lib/section.ts';
import { gatehouseUnavailableReason, startGatehouse } from '../lib/gatehouse.ts';
import { startUpstream } from '../lib/nginx.ts';
import { parseWrkOutput } from '../lib/wrk.ts';
import { startCpuMeter } from '../lib/cpu.ts';

const WRK_SCRIPT = fileURLToPath(new URL('../lib/wrk-report.lua', import.meta.url));
const NAME = 'gatehouse-policy';

export interface GatewayFigure {
  route: 'public (bare proxy)' | 'authn + policy + assertion';
  connections: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  proxyCpuPercent: number | null;
}

export type GatewayPolicyResult = { available: true; figures: GatewayFigure[] } | { available: false; reason: string };

async function token(url: string, ca: string, clientId: string, secret: string): Promise<string> {
  const res = await request(`${url}/oidc/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
    body: 'grant_type=client_credentials',
    dispatcher: new Agent({ connect: { ca, servername: 'localhost' } }),
  });
  const body = await res.body.json() as { access_token?: string };
  if (res.statusCode !== 200 || !body.access_token) throw new Error(`token endpoint answered ${res.statusCode}`);
  return body.access_token;
}

async function check(url: string, ca: string, headers: Record<string, string>): Promise<void> {
  const res = await request(url, { headers, dispatcher: new Agent({ connect: { ca, servername: 'localhost' } }) });
  const text = await res.body.text();
  if (res.statusCode !== 200 || text !== 'ok') throw new Error(`preflight ${url} answered ${res.statusCode} ${text.slice(0, 200)}`);
}

async function wrk(ctx: BenchContext, url: string, connections: number, durationS: number, headers: string[]) {
  const args = ['-t', '1', '-c', String(connections), '-d', `${durationS}s`, '--timeout', '5s', ...headers.flatMap((h) => ['-H', h]), '-s', WRK_SCRIPT, url];
  const { code, output } = await ctx.processes.run('wrk', ctx.tools.wrk, args, { cpu: ctx.cpus.load });
  if (code !== 0) throw new Error(`wrk exited with ${code}: ${output.slice(0, 500)}`);
  return parseWrkOutput(output);
}

/** Starts an upstream and one Gatehouse with both routes, measures each, stops them. */
export async function measureGatewayPolicy(ctx: BenchContext): Promise<GatewayPolicyResult> {
  const reason = await gatehouseUnavailableReason(ctx.repoRoot);
  if (reason !== undefined) return { available: false, reason };
  const policies = join(ctx.tmpDir, 'policy-bench-policies');
  await mkdir(policies, { recursive: true });
  await writeFile(join(policies, 'bench.cedar'), '@id("bench-svc-reads") permit (principal == Gatehouse::Service::"bench-svc", action == Gatehouse::Action::"GET", resource == Gatehouse::Route::"guarded");\n');
  const upstream = await startUpstream(ctx);
  let server;
  try {
    server = await startGatehouse(ctx, {
      upstreamUrl: upstream.url,
      name: NAME,
      config: {
        routes: [
          { id: 'guarded', path: '/guarded', upstream: 'bench', policy: 'bench', authentication: { methods: ['jwt'] } },
          { id: 'bench', path: '/', upstream: 'bench', access: 'public' },
        ],
        policy: { dir: policies },
      },
    });
    const store = await openStore(`sqlite:${join(ctx.tmpDir, NAME, 'data', 'gatehouse.db')}`);
    let secret: string;
    try {
      const accounts = new AccountService(new IdentityUsersRepo(store.db), new IdentityClientsRepo(store.db), () => undefined);
      secret = (await accounts.addClient({ clientId: 'bench-svc', kind: 'service', name: 'bench-svc' })).secret!;
    } finally {
      await store.close();
    }
    const ca = (await ctx.cert()).pem;
    const auth = `Authorization: Bearer ${await token(server.url, ca, 'bench-svc', secret)}`;
    await check(`${server.url}/guarded/x`, ca, { authorization: auth.slice('Authorization: '.length) });
    await check(`${server.url}/`, ca, {});

    const connections = 50;
    const figures: GatewayFigure[] = [];
    const runs = [
      { route: 'public (bare proxy)' as const, url: `${server.url}/`, headers: [] as string[] },
      { route: 'authn + policy + assertion' as const, url: `${server.url}/guarded/x`, headers: [auth] },
    ];
    for (const r of runs) await wrk(ctx, r.url, connections, ctx.options.warmupS, r.headers);
    // Alternate the two routes so that a disturbance of the machine hits both alike.
    for (let round = 0; round < 2; round++) {
      for (const r of runs) {
        ctx.log(`policy: gateway ${r.route}, ${connections} connections, ${ctx.options.durationS}s (round ${round + 1})`);
        const meter = startCpuMeter(server.process.pid, [upstream.process.pid]);
        const w = await wrk(ctx, r.url, connections, ctx.options.durationS, r.headers);
        const cpu = meter.stop();
        figures.push({
          route: r.route, connections, requestsPerSecond: w.requestsPerSecond, p50Ms: w.latencyMs.p50, p99Ms: w.latencyMs.p99,
          non2xx: w.errors.status, proxyCpuPercent: cpu.proxyProcessPercent,
        });
      }
    }
    return { available: true, figures };
  } catch (error) {
    return { available: false, reason: error instanceof Error ? error.message.split('\n')[0]! : String(error) };
  } finally {
    await server?.stop();
    await upstream.stop();
  }
}
