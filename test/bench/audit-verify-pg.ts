/**
 * `audit verify` of a long chain on PostgreSQL, timed repeatedly on one chain filled once:
 * the audit bench section fills a fresh million records before its one verify, which takes
 * minutes and leaves a single noisy figure. The database (default `gatehouse_verify_bench`)
 * is kept between runs; `--drop` removes it.
 *
 * Each run reports wall time, this process's CPU time (user + system, all threads) and the
 * CPU time of the PostgreSQL backends serving it (/proc/<pid>/stat of the database's
 * connections, so only when the server runs on this machine), per record. With `--trees`
 * the runs alternate between trees (e.g. `git archive <commit> src | tar -x -C /tmp/before`
 * with a node_modules symlink next to it), so that both see the same machine load.
 *
 * With `--fresh` the chain is written anew before every run (about a minute and a half for a
 * million records), so that each verify reads freshly written records as the bench section's
 * does; otherwise every run reads the same vacuumed records.
 *
 * Usage: node test/bench/audit-verify-pg.ts [--records 1000000] [--runs 3] [--fresh]
 *          [--trees /tmp/before/src,src] [--url postgres://…/db] [--drop]
 */
import { randomUUIDv7 } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { JWK } from 'jose';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    trees: { type: 'string', default: 'src' },
    url: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/gatehouse_verify_bench' },
    drop: { type: 'boolean', default: false },
    fresh: { type: 'boolean', default: false },
  },
});
const records = Number(values.records);
const url = new URL(values.url!);
const database = url.pathname.slice(1);
const adminUrl = new URL(url);
adminUrl.pathname = '/postgres';

async function admin<T extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: adminUrl.toString() });
  await client.connect();
  try { return (await client.query<T>(text, params)).rows; } finally { await client.end(); }
}

if (values.drop) {
  await admin(`drop database if exists ${pg.escapeIdentifier(database)} with (force)`);
  process.exit(0);
}

const trees = values.trees!.split(',').map((t) => resolve(t));
const load = async (root: string) => ({
  root,
  openStore: (await import(`${root}/store/index.ts`)).openStore as typeof import('../../src/store/index.ts').openStore,
  verifyAudit: (await import(`${root}/audit/verify.ts`)).verifyAudit as typeof import('../../src/audit/verify.ts').verifyAudit,
});
const variants = await Promise.all(trees.map(load));
const here = await load(resolve('src'));

if ((await admin('select 1 from pg_database where datname = $1', [database])).length === 0) {
  await admin(`create database ${pg.escapeIdentifier(database)}`);
}

/** The same drafts as the audit bench section (sections/audit-worker.ts). */
function draft(i: number) {
  return {
    time: Date.now(), instance: 'bench', event: 'gateway.request', eventId: randomUUIDv7(), requestId: `r-${i}`, traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    actor: `user-${i % 1000}`, actorKind: 'user', action: 'gateway.request', resource: `route:inbox GET /inbox/${i % 100}`, outcome: 'success' as const,
    decisionId: null, reasons: null, clientAddress: '203.0.113.9',
    details: `{"bytesIn":0,"bytesOut":512,"clientAddress":"203.0.113.9","durationMs":1.25,"method":"GET","path":"/inbox/${i % 100}","requestId":"r-${i}","routeId":"inbox","stage":"forward","status":200,"subject":"user-${i % 1000}"}`,
  };
}

const chain = 'verify';

/** Writes `records` records as the bench section does; returns the checkpoint key's public JWK. */
async function fill(client: pg.Client): Promise<JWK> {
  process.stderr.write(`filling ${records} records…\n`);
  const { AuditWriter } = await import('../../src/audit/writer.ts');
  const { generateSigningJwk, signingKeyFromJwk } = await import('../../src/audit/signing-key.ts');
  await client.query('truncate audit_records, audit_checkpoints, audit_chain_heads, bench_verify_key');
  const key = await signingKeyFromJwk(await generateSigningJwk());
  const spool = await mkdtemp(join(tmpdir(), 'verify-bench-'));
  const store = await here.openStore(url.toString(), { poolMax: 4 });
  try {
    const writer = AuditWriter.open({ store, chain, instance: 'bench', spoolDir: spool, signingKey: key, fsync: false, batchMaxEvents: 5000, batchMaxDelayMs: 0, checkpointEveryRecords: 100_000 });
    for (let i = 0; i < records; i++) {
      writer.append(draft(i));
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
    await writer.flush();
    await writer.close();
  } finally {
    await store.close();
    await rm(spool, { recursive: true, force: true });
  }
  await client.query('insert into bench_verify_key (jwk) values ($1)', [JSON.stringify(key.publicJwk)]);
  return key.publicJwk;
}

const client = new pg.Client({ connectionString: url.toString() });
await client.connect();
{
  const store = await here.openStore(url.toString(), { poolMax: 1 });
  try { await store.migrate(); } finally { await store.close(); }
}
// The checkpoint key lives in the bench database itself: it goes only with a refill.
await client.query('create table if not exists bench_verify_key (jwk text not null)');
let trusted: JWK | undefined;
if (!values.fresh) {
  const have = Number((await client.query<{ n: string }>('select count(*) as n from audit_records where chain = $1', [chain])).rows[0]!.n);
  const keyRow = (await client.query<{ jwk: string }>('select jwk from bench_verify_key')).rows[0];
  trusted = have === records && keyRow ? JSON.parse(keyRow.jwk) as JWK : await fill(client);
  // Every run then reads vacuumed records (hint bits set, statistics known); with --fresh each
  // run reads freshly written ones, as the bench section's single verify does.
  await client.query('vacuum analyze audit_records');
}

const ticks = 100; // USER_HZ on Linux
function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / ticks;
  } catch {
    return 0;
  }
}
const backendPids = async () => (await admin<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [database])).map((r) => r.pid);

for (let run = 0; run < Number(values.runs); run++) {
  for (const v of variants) {
    if (values.fresh) trusted = await fill(client);
    const store = await v.openStore(url.toString(), { poolMax: 4 });
    // Connections opened during the run start from zero; those open before from their current count.
    const before = new Map((await backendPids()).map((p) => [p, procCpuMs(p)]));
    const cpu = process.cpuUsage();
    const report = await v.verifyAudit(store, { trustedKeys: [trusted!], chain });
    const used = process.cpuUsage(cpu);
    let serverMs = 0;
    for (const p of await backendPids()) serverMs += procCpuMs(p) - (before.get(p) ?? 0);
    await store.close();
    if (!report.ok || report.records !== records) throw new Error(`verify failed: ${JSON.stringify(report.problems)} (${report.records} records)`);
    const clientMs = (used.user + used.system) / 1000;
    const line = `${v.root.padEnd(28)} run ${run + 1}: wall ${(report.durationMs / 1000).toFixed(2)} s, client CPU ${(clientMs / 1000).toFixed(2)} s (${((clientMs * 1000) / records).toFixed(2)} µs/record), server CPU ${(serverMs / 1000).toFixed(2)} s, load ${loadavg()[0]!.toFixed(2)}`;
    process.stdout.write(`${line}\n`);
  }
}
await client.end();
