/**
 * Identity section: the OpenID provider of a running Gatehouse (`gatehouse start`, embedded
 * SQLite store, pinned to the proxy CPU), measured from outside over real TLS:
 *
 * - client-credentials grants per second and refresh grants per second, each grant on a
 *   new TLS connection: client credentials with wrk (`Connection: close`,
 *   identity-grants.lua), refresh grants with identity-refresh.ts (one rotating
 *   refresh-token chain per connection, which wrk cannot keep apart);
 * - password logins per second: the whole browser flow with openid-client as the relying
 *   party (identity-logins.ts, on the load CPU), at the configured Argon2id parameters.
 *
 * Figures are compared with Keycloak's published sizing per vCPU (120 client-credentials
 * grants, 120 refresh grants, 15 password logins per second), after dividing by the CPU
 * Gatehouse actually used, so that an idle or starved CPU does not flatter or hurt it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../../src/store/open-store.ts';
import { IdentityClientsRepo } from '../../../src/store/repos/identity-clients-repo.ts';
import { IdentityUsersRepo } from '../../../src/store/repos/identity-users-repo.ts';
import { AccountService } from '../../../src/identity/accounts/account-service.ts';
import { PASSWORD_PARAMS } from '../../../src/identity/accounts/passwords.ts';
import { loginAndExchange, PASSWORD, REDIRECT, rpConfig, type RpTarget } from '../../identity/support/flows.ts';
import type { BenchContext, Section, SectionResult } from '../lib/section.ts';
import { startGatehouse } from '../lib/gatehouse.ts';
import { parseWrkOutput, type WrkResult } from '../lib/wrk.ts';
import { startCpuMeter, waitForQuiet, type CpuReport, type QuietCheck } from '../lib/cpu.ts';
import { fixed, table } from '../lib/markdown.ts';
import { redirectingFetch, type LoginLoadOptions, type LoginLoadResult } from './identity-logins.ts';
import type { RefreshLoadOptions, RefreshLoadResult } from './identity-refresh.ts';

const GRANTS_SCRIPT = fileURLToPath(new URL('./identity-grants.lua', import.meta.url));
const LOGINS_CLIENT = fileURLToPath(new URL('./identity-logins.ts', import.meta.url));
const REFRESH_CLIENT = fileURLToPath(new URL('./identity-refresh.ts', import.meta.url));

/** Keycloak's published sizing, per vCPU (keycloak.org, "Concepts for sizing CPU and memory resources"). */
export const KEYCLOAK_PER_VCPU = { clientCredentials: 120, refresh: 120, passwordLogins: 15 } as const;

/** What was measured; `clientCredentialsKeepAlive` is a comparison row (connections reused). */
type Kind = keyof typeof KEYCLOAK_PER_VCPU | 'clientCredentialsKeepAlive';
const keycloakFigure = (kind: Kind): number => KEYCLOAK_PER_VCPU[kind === 'clientCredentialsKeepAlive' ? 'clientCredentials' : kind];

interface Figure {
  kind: Kind;
  perSecond: number;
  /** Per second per fully used core: perSecond ÷ (Gatehouse CPU ÷ 100). */
  perCore: number;
  keycloakPerVcpu: number;
  /** perCore ÷ Keycloak's per-vCPU figure. */
  ratio: number;
  connections: number;
  failed: number;
  latencyMs: { p50: number; p99: number } | null;
  cpu: CpuReport;
  quiet: QuietCheck;
  note?: string;
}

function basic(id: string, secret: string): string {
  // RFC 6749 §2.3.1: form-urlencode id and secret before joining them.
  return Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
}

async function wrkClientCredentials(ctx: BenchContext, url: string, connections: number, durationS: number, basicAuth: string, keepAlive = false): Promise<WrkResult> {
  const { code, output } = await ctx.processes.run('wrk-identity', ctx.tools.wrk, [
    '-t', '1', '-c', String(connections), '-d', `${durationS}s`, '--timeout', '10s', '-s', GRANTS_SCRIPT, url, '--', basicAuth, ...(keepAlive ? ['keep-alive'] : []),
  ], { cpu: ctx.cpus.load });
  if (code !== 0) throw new Error(`wrk exited with ${code}:\n${output.slice(0, 2000)}`);
  return parseWrkOutput(output);
}

/** Runs a load-generator child on the load CPU and parses its marked JSON line. */
async function runClient<T>(ctx: BenchContext, name: string, file: string, options: object, marker: string): Promise<T> {
  const run = await ctx.processes.run(name, ctx.nodeBin, [file, JSON.stringify(options)], { cpu: ctx.cpus.load, cwd: ctx.repoRoot });
  const line = run.output.split('\n').find((l) => l.startsWith(`${marker} `));
  if (run.code !== 0 || !line) throw new Error(`${name} failed (${run.code}):\n${run.output.slice(0, 2000)}`);
  return JSON.parse(line.slice(marker.length + 1)) as T;
}

function figure(kind: Kind, perSecond: number, cpu: CpuReport, quiet: QuietCheck, rest: Pick<Figure, 'connections' | 'failed' | 'latencyMs'> & { note?: string }): Figure {
  const used = (cpu.proxyProcessPercent ?? 100) / 100;
  const perCore = used > 0 ? perSecond / used : 0;
  return { kind, perSecond, perCore, keycloakPerVcpu: keycloakFigure(kind), ratio: perCore / keycloakFigure(kind), cpu, quiet, ...rest };
}

export const identitySection: Section = {
  name: 'identity',
  description: 'identity provider: client-credentials and refresh grants/s (new TLS connection each), password logins/s; vs Keycloak sizing',
  async run(ctx: BenchContext): Promise<SectionResult> {
    const connections = 16;
    const durationS = ctx.options.durationS;
    const warmupS = ctx.options.warmupS;
    const name = 'gatehouse-identity';
    const server = await startGatehouse(ctx, { upstreamUrl: 'http://127.0.0.1:9', name });
    const figures: Figure[] = [];
    try {
      const cert = await ctx.cert();
      const port = new URL(server.url).port;
      // The default publicUrl (issuer) names localhost; connect to the listener's address.
      const origin = `https://localhost:${port}`;
      const pid = server.process.pid;

      ctx.log('identity: registering the bench clients and user in the store');
      const store = await openStore(`sqlite:${join(ctx.tmpDir, name, 'data', 'gatehouse.db')}`);
      let svcSecret: string;
      let appSecret: string;
      try {
        const accounts = new AccountService(new IdentityUsersRepo(store.db), new IdentityClientsRepo(store.db), () => undefined);
        svcSecret = (await accounts.addClient({ clientId: 'bench-svc', kind: 'service', roles: ['bench'] })).secret!;
        appSecret = (await accounts.addClient({ clientId: 'bench-app', kind: 'app', redirectUris: [REDIRECT] })).secret!;
        await accounts.addUser({ username: 'bench-user', password: PASSWORD, roles: ['bench'] });
      } finally {
        await store.close();
      }
      const target: RpTarget = { origin, fetch: redirectingFetch(origin, server.url, cert.pem) };

      // Client credentials.
      const svcAuth = basic('bench-svc', svcSecret);
      await wrkClientCredentials(ctx, server.url, connections, warmupS, svcAuth);
      let quiet = await waitForQuiet([pid], ctx.options.quietWaitS);
      ctx.log(`identity: client credentials, ${connections} connections, ${durationS} s`);
      let meter = startCpuMeter(pid, []);
      const cc = await wrkClientCredentials(ctx, server.url, connections, durationS, svcAuth);
      figures.push(figure('clientCredentials', cc.requestsPerSecond, meter.stop(), quiet, {
        connections, failed: cc.errors.status + cc.errors.connect + cc.errors.read + cc.errors.timeout,
        latencyMs: { p50: cc.latencyMs.p50, p99: cc.latencyMs.p99 },
      }));

      // The same grants over reused connections: what the TLS handshakes cost, by difference.
      quiet = await waitForQuiet([pid], ctx.options.quietWaitS);
      ctx.log(`identity: client credentials over keep-alive connections, ${durationS} s`);
      meter = startCpuMeter(pid, []);
      const ka = await wrkClientCredentials(ctx, server.url, connections, durationS, svcAuth, true);
      figures.push(figure('clientCredentialsKeepAlive', ka.requestsPerSecond, meter.stop(), quiet, {
        connections, failed: ka.errors.status + ka.errors.connect + ka.errors.read + ka.errors.timeout,
        latencyMs: { p50: ka.latencyMs.p50, p99: ka.latencyMs.p99 },
      }));

      // Refresh: one chain per connection, each started by a real login.
      const appConfig = await rpConfig(target, 'bench-app', appSecret);
      ctx.log(`identity: starting ${connections} refresh-token chains with code-flow logins`);
      const tokens: string[] = [];
      for (let i = 0; i < connections; i++) {
        const { tokens: t } = await loginAndExchange(target, appConfig, 'bench-user', PASSWORD, 'openid offline_access');
        tokens.push(t.refresh_token!);
      }
      const tokensFile = join(ctx.tmpDir, 'identity-refresh-tokens.txt');
      await writeFile(tokensFile, tokens.join('\n'));
      const refreshOptions: RefreshLoadOptions = { url: server.url, caFile: cert.certFile, basicAuth: basic('bench-app', appSecret), tokensFile, warmupS, durationS };
      quiet = await waitForQuiet([pid], ctx.options.quietWaitS);
      ctx.log(`identity: refresh grants, ${connections} chains, ${durationS} s (after ${warmupS} s warm-up)`);
      meter = startCpuMeter(pid, []);
      const rt = await runClient<RefreshLoadResult>(ctx, 'identity-refresh', REFRESH_CLIENT, refreshOptions, 'GATEHOUSE_IDP_REFRESH_JSON');
      figures.push(figure('refresh', rt.grantsPerSecond, meter.stop(), quiet, {
        connections, failed: rt.failures, latencyMs: rt.latencyMs,
        ...(rt.firstFailure ? { note: `${rt.brokenChains} chains broke; first failure: ${rt.firstFailure}` } : {}),
      }));

      // Password logins: the whole browser flow, from a child on the load CPU.
      const concurrency = 4;
      const options: LoginLoadOptions = {
        origin, connectOrigin: server.url, caFile: cert.certFile, clientId: 'bench-app', clientSecret: appSecret,
        username: 'bench-user', password: PASSWORD, concurrency, warmupS, durationS,
      };
      quiet = await waitForQuiet([pid], ctx.options.quietWaitS);
      ctx.log(`identity: password logins, ${concurrency} browsers, ${durationS} s`);
      meter = startCpuMeter(pid, []);
      const logins = await runClient<LoginLoadResult>(ctx, 'identity-logins', LOGINS_CLIENT, options, 'GATEHOUSE_IDP_LOGINS_JSON');
      const cpu = meter.stop();
      // The meter also spans the warm-up; the login rate is from the measured part only.
      figures.push(figure('passwordLogins', logins.loginsPerSecond, cpu, quiet, {
        connections: concurrency, failed: logins.failures, latencyMs: logins.latencyMs,
        ...(logins.firstFailure ? { note: `first failure: ${logins.firstFailure}` } : {}),
      }));
    } finally {
      await server.stop();
    }

    const label: Record<Kind, string> = {
      clientCredentials: 'client-credentials grants', clientCredentialsKeepAlive: 'client-credentials grants, reused connections (comparison)',
      refresh: 'refresh grants', passwordLogins: 'password logins (full flow)',
    };
    const rows = figures.map((f) => [
      label[f.kind], fixed(f.perSecond, 0), `${fixed(f.cpu.proxyProcessPercent ?? 0, 0)} %`, fixed(f.perCore, 0), String(f.keycloakPerVcpu), `${fixed(f.ratio, 1)} ×`,
      f.latencyMs ? `${fixed(f.latencyMs.p50, 1)} / ${fixed(f.latencyMs.p99, 1)}` : '—', String(f.failed),
      ctx.cpus.load === undefined ? '—' : `${fixed(f.cpu.busyPercentPerCpu[ctx.cpus.load] ?? 0, 0)} %`, `${fixed(f.cpu.otherProcessesPercent, 0)} %`,
    ]);
    const argon = PASSWORD_PARAMS;
    const markdown = [
      table(['what', 'per second', 'Gatehouse CPU', 'per core', 'Keycloak per vCPU', 'ratio', 'p50 / p99 ms', 'failed', 'load CPU busy', 'other processes'], rows),
      '',
      `Gatehouse (\`gatehouse start\`, embedded SQLite store, in-process bus) on one CPU (${ctx.cpus.description}). Grants: ${connections} concurrent clients, each grant on a new TLS 1.3 connection (\`Connection: close\`, no session resumption; ECDSA P-256 certificate) — wrk for client credentials, a Node client (one rotating refresh-token chain per connection, each started by a real login) for refresh grants; `
        + `client \`client_secret_basic\`; client credentials return an ES256 JWT access token (RFC 9068); refresh grants rotate the refresh token and return an opaque access token and an ES256 ID token. `
        + `Password logins: ${figures.find((f) => f.kind === 'passwordLogins')?.connections ?? 4} concurrent browsers on the load CPU, each login the whole code flow (authorization request, sign-in page, password POST, redirects, code exchange with PKCE) with a fresh cookie jar; Argon2id m = ${argon.memory} KiB, t = ${argon.passes}, p = ${argon.parallelism}.`,
      'When Gatehouse CPU is well below 100 % while the load CPU is busy, the clients (TLS handshakes on their side, shared with other processes) were the limit, not Gatehouse. '
        + '"per core" divides by the CPU Gatehouse used during the run (its process group, all threads); "ratio" compares that with Keycloak\'s published sizing per vCPU (120 client-credentials grants, 120 refresh grants, 15 password logins per second), which is a sizing guideline measured on their hardware, not a run on this machine.',
      'The comparison row sends the same client-credentials grants over reused (keep-alive) connections; the difference from the first row is what a new TLS handshake per grant costs. Its ratio is not comparable with Keycloak\'s figure, which assumes a new connection per grant.',
      ...figures.filter((f) => f.note).map((f) => `Note (${label[f.kind]}): ${f.note}`),
    ].join('\n');
    return { markdown, data: { figures, keycloakPerVcpu: KEYCLOAK_PER_VCPU } };
  },
};
