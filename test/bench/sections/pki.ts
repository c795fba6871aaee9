/**
 * Section "pki": the certificate authority and mutual TLS.
 *
 * 1. Issuance: in process (`CertificateAuthority.issue()` on the in-memory repository,
 *    SQLite and PostgreSQL, in a child pinned to the proxy CPU; the client's key + CSR
 *    generation apart), and over a running Gatehouse's HTTP API with bootstrap tokens.
 * 2. TLS handshakes at Gatehouse's public listener, a new connection per request, with and
 *    without TLS 1.3 session resumption, against nginx's TLS listener in the same run.
 * 3. Proxied requests/s with mutual TLS to the upstream against plain HTTP to the
 *    upstream, same Gatehouse, same run (wrk, 100 keep-alive connections).
 *
 * One Gatehouse (`gatehouse start`, embedded defaults, its CA created at first start in
 * development mode) serves parts 2 and 3; the section opens the same store and master key
 * to issue the mTLS upstream's certificate and to make bootstrap tokens.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pkiSchema } from '../../../src/core/config/pki-schema.ts';
import { createKeyAndCsr } from '../../../src/pki/key-and-csr.ts';
import { openAuthority, openPkiCommandContext } from '../../../src/pki/commands/context.ts';
import { openStore } from '../../../src/store/open-store.ts';
import type { BenchContext, Section, SectionResult } from '../lib/section.ts';
import { startNginxProxy, startUpstream, type RunningServer } from '../lib/nginx.ts';
import { gatehouseUnavailableReason, startGatehouse } from '../lib/gatehouse.ts';
import { freePort, probe, waitForHttp } from '../lib/net.ts';
import { waitForQuiet } from '../lib/cpu.ts';
import { INPROCESS_MARKER, type InProcessOptions, type InProcessResult } from './pki-inprocess.ts';
import { measureHandshakes, measureHttpIssue, measureMtls, NO_CPU, runWindowed } from './pki-measure.ts';
import { startMtlsUpstream } from './pki-nginx.ts';
import { renderPkiSection, type GatehouseParts, type PkiSectionData } from './pki-report.ts';

const POSTGRES_URL = process.env.GATEHOUSE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const INPROCESS = fileURLToPath(new URL('./pki-inprocess.ts', import.meta.url));
const NAME = 'gatehouse-pki';
const TRUST_DOMAIN = 'gatehouse.internal';
const WORKLOAD_ID = `spiffe://${TRUST_DOMAIN}/svc/bench`;
const UPSTREAM_ID = `spiffe://${TRUST_DOMAIN}/svc/bench-upstream`;

async function pgAdmin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  await client.connect();
  try { await client.query(statement); } finally { await client.end(); }
}

/** Part 1a: a child pinned to the proxy CPU; PostgreSQL in a database made for this run. */
async function measureInProcess(ctx: BenchContext): Promise<InProcessResult> {
  const options: InProcessOptions = { seconds: ctx.options.quick ? 0.3 : 1, concurrency: [1, 16], sqliteFile: join(ctx.tmpDir, 'pki-inprocess.db') };
  const database = `gatehouse_bench_pki_${randomBytes(6).toString('hex')}`;
  let created = false;
  let postgresNote: string | undefined;
  try {
    await pgAdmin(`create database ${pg.escapeIdentifier(database)}`);
    created = true;
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${database}`;
    options.postgresUrl = url.toString();
  } catch (error) {
    postgresNote = `PostgreSQL not reachable at ${new URL(POSTGRES_URL).host} (${(error as Error).message})`;
  }
  try {
    ctx.log('pki: issuance in process (pinned child)');
    const { code, output, cpus } = await runWindowed(ctx, 'pki-inprocess', [INPROCESS, JSON.stringify(options)], ctx.cpus.proxy, (child) => ({ server: child, others: [] }));
    const line = output.split('\n').find((l) => l.startsWith(INPROCESS_MARKER));
    if (code !== 0 || !line) throw new Error(`in-process issuance failed (${code}): ${output.slice(-1500)}`);
    const result = JSON.parse(line.slice(INPROCESS_MARKER.length)) as InProcessResult;
    // Figures are in window order.
    result.figures.forEach((figure, index) => { figure.cpu = cpus.get(index) ?? NO_CPU; });
    return postgresNote ? { ...result, postgresNote } : result;
  } finally {
    if (created) await pgAdmin(`drop database if exists ${pg.escapeIdentifier(database)} with (force)`).catch((e: unknown) => ctx.log(`pki: could not drop ${database}: ${(e as Error).message}`));
  }
}

/** Opens Gatehouse's own store and CA (same data directory, same development master key). */
async function withGatehouseCa<T>(ctx: BenchContext, work: (ca: Awaited<ReturnType<typeof openAuthority>>) => Promise<T>): Promise<T> {
  const dataDir = join(ctx.tmpDir, NAME, 'data');
  const store = await openStore(`sqlite:${join(dataDir, 'gatehouse.db')}`);
  try {
    const pki = await openPkiCommandContext({ store, config: { pki: pkiSchema.parse({}), dataDir, mode: 'development' } });
    return await work(await openAuthority(pki));
  } finally {
    await store.close();
  }
}

/** Parts 2 and 3, plus issuance over HTTP: one Gatehouse, its upstreams, nginx as the peer. */
async function measureGatehouse(ctx: BenchContext): Promise<GatehouseParts> {
  const parts: GatehouseParts = { available: true, quiet: [], httpIssue: [], handshakes: [], mtls: [], failures: [] };
  const servers: RunningServer[] = [];
  try {
    const upstream = await startUpstream(ctx);
    servers.push(upstream);
    const mtlsPort = await freePort();
    const server = await startGatehouse(ctx, {
      upstreamUrl: upstream.url,
      name: NAME,
      config: {
        upstreams: { mtls: { url: `https://127.0.0.1:${mtlsPort}`, tls: { spiffeId: UPSTREAM_ID } } },
        routes: [
          { id: 'mtls', path: '/mtls', upstream: 'mtls', access: 'public' },
          { id: 'bench', path: '/', upstream: 'bench', access: 'public' },
        ],
      },
    });
    servers.push(server);
    const cert = await ctx.cert();
    const quick = ctx.options.quick;
    const issueRuns = [{ concurrency: 1, tokens: quick ? 150 : 800 }, { concurrency: 8, tokens: quick ? 400 : 2000 }];
    ctx.log('pki: issuing the mTLS upstream\'s certificate and making bootstrap tokens');
    const prepared = await withGatehouseCa(ctx, async (ca) => {
      const { keyPem, csrPem } = await createKeyAndCsr(UPSTREAM_ID, { ipAddresses: ['127.0.0.1'] });
      const issued = await ca.issue({ csr: csrPem, spiffeId: UPSTREAM_ID, allowedIpAddresses: ['127.0.0.1'] });
      const trust = await ca.currentTrust();
      const runs = [];
      for (const run of issueRuns) {
        const tokens: string[] = [];
        for (let i = 0; i < run.tokens; i++) tokens.push((await ca.createBootstrapToken({ spiffeId: WORKLOAD_ID })).token);
        const tokensFile = join(ctx.tmpDir, `pki-tokens-${run.concurrency}.txt`);
        await writeFile(tokensFile, tokens.join('\n'), { mode: 0o600 });
        runs.push({ concurrency: run.concurrency, tokensFile });
      }
      return {
        runs, rootPem: ca.trustBundlePem,
        files: { chainPem: issued.chainPem, keyPem, clientCaPem: trust.bundlePem + trust.intermediatesPem, crlPem: trust.crlPems.join('\n') },
      };
    });
    const mtlsUpstream = await startMtlsUpstream(ctx, mtlsPort, prepared.files);
    servers.push(mtlsUpstream);
    await waitForHttp(mtlsUpstream.url, { ca: prepared.rootPem, exited: mtlsUpstream.process.exited });
    const bare = await probe(mtlsUpstream.url, prepared.rootPem);
    if (bare.status !== 400) throw new Error(`the mTLS upstream answered ${bare.status} to a client without a certificate (expected 400): it does not require client certificates`);
    for (const path of ['/', '/mtls']) {
      const through = await probe(`${server.url}${path}`, cert.pem);
      if (through.status !== 200 || through.body !== 'ok') throw new Error(`Gatehouse ${path} answered ${through.status} ${through.body.slice(0, 200)}`);
      if (through.tls) parts.tls = through.tls;
    }

    const others = [upstream.process.pid, mtlsUpstream.process.pid];
    const part = async (name: string, work: () => Promise<void>, ownPids: number[]): Promise<void> => {
      parts.quiet.push(await waitForQuiet(ownPids, ctx.options.quietWaitS));
      try {
        await work();
      } catch (error) {
        ctx.log(`pki: ${name} failed: ${(error as Error).stack ?? String(error)}`);
        parts.failures.push(`${name}: ${(error as Error).message}`);
      }
    };
    const gatehouse = { server: server.process.pid, others };
    await part('issuance over HTTP', async () => {
      parts.httpIssue = await measureHttpIssue(ctx, { gatehouseUrl: server.url, apiPath: pkiSchema.parse({}).apiPath, caFile: cert.certFile, spiffeId: WORKLOAD_ID }, prepared.runs, gatehouse);
    }, [server.process.pid, ...others]);

    const nginx = await startNginxProxy(ctx, upstream.url);
    servers.push(nginx);
    const port = (url: string): number => Number(new URL(url).port);
    await part('TLS handshakes', async () => {
      parts.handshakes = await measureHandshakes(ctx, [
        { id: 'gatehouse', port: port(server.url), accounting: { server: server.process.pid, others: [...others, nginx.process.pid] } },
        { id: 'nginx', port: port(nginx.url), accounting: { server: nginx.process.pid, others: [...others, server.process.pid] } },
      ], cert.certFile);
    }, [server.process.pid, nginx.process.pid, ...others]);
    await nginx.stop();

    await part('mTLS upstream', async () => {
      parts.mtls = await measureMtls(ctx, server.url, gatehouse);
    }, [server.process.pid, ...others]);
    return parts;
  } finally {
    for (const s of servers.reverse()) await s.stop();
  }
}

export const pkiSection: Section = {
  name: 'pki',
  description: 'certificate issuance p50/p99 and per second (in process on memory/SQLite/PostgreSQL, over HTTP with bootstrap tokens); TLS handshakes/s with and without resumption vs nginx; req/s with mTLS vs plain HTTP to the upstream',
  async run(ctx: BenchContext): Promise<SectionResult> {
    const data: PkiSectionData = {
      inProcess: await measureInProcess(ctx).catch((error: unknown) => ({ error: error instanceof Error ? error.message : String(error) })),
      gatehouse: { available: false, reason: 'not started' },
      settings: { cpus: ctx.cpus.description, quick: ctx.options.quick, durationS: ctx.options.durationS, warmupS: ctx.options.warmupS, gatehouseTree: ctx.options.gatehouseTree, gatehouseRef: ctx.options.gatehouseRef },
    };
    const reason = await gatehouseUnavailableReason(ctx);
    if (reason !== undefined) data.gatehouse = { available: false, reason };
    else {
      try {
        data.gatehouse = await measureGatehouse(ctx);
      } catch (error) {
        ctx.log(`pki: Gatehouse parts failed: ${(error as Error).stack ?? String(error)}`);
        data.gatehouse = { available: false, reason: (error as Error).message.split('\n')[0]! };
      }
    }
    return { markdown: renderPkiSection(data), data };
  },
};
