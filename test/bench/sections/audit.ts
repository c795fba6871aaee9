/**
 * Audit section: durable append throughput (spool fdatasync + group commit) on SQLite and
 * PostgreSQL, the store-down path (spool only) and its replay, and verification time of
 * a long chain. Measured in a child pinned to the proxy CPU (audit-worker.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { BenchContext, Section, SectionResult } from '../lib/section.ts';
import { gatehouseRoot } from '../lib/gatehouse.ts';

const POSTGRES_URL = process.env.GATEHOUSE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Appends { events: number; ms: number; eventsPerSec: number; batches: number; cpuUsPerEvent: number }

interface WorkerResult {
  url: string;
  append: Appends;
  /** The same with the commit thread on the load core; absent from a tree before it. */
  appendThread?: Appends;
  /** Access records through the gateway's path (appendAccess), inline and on the commit thread; absent from a tree before it. */
  access?: Appends;
  accessThread?: Appends;
  storeDown: { events: number; spoolEventsPerSec: number; replayEventsPerSec: number; replayed: number };
  verify: { records: number; ms: number; recordsPerSec: number };
}

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  await client.connect();
  try { await client.query(statement); } finally { await client.end(); }
}

async function runWorker(ctx: BenchContext, label: string, url: string, append: number, verify: number): Promise<WorkerResult> {
  const scratch = join(ctx.tmpDir, `audit-${label}`);
  await mkdir(scratch, { recursive: true });
  // The measured revision's own worker and writer (HEAD or --gatehouse-ref), not the work tree's:
  // from the work tree, `--gatehouse-ref` compared the work tree with itself.
  const root = await gatehouseRoot(ctx);
  const worker = join(root, 'test/bench/sections/audit-worker.ts');
  const { code, output } = await ctx.processes.run(`audit-${label}`, ctx.nodeBin, [worker, url, String(append), String(verify), scratch, ...(ctx.cpus.load === undefined ? [] : [String(ctx.cpus.load)])], { cpu: ctx.cpus.proxy, cwd: root });
  if (code !== 0) throw new Error(`audit bench (${label}) failed: ${output}`);
  return JSON.parse(output.slice(output.lastIndexOf('{"url"'))) as WorkerResult;
}

export const auditSection: Section = {
  name: 'audit',
  description: 'audit log: durable appends/s (group commit) on SQLite and PostgreSQL, spool-only and replay, verify time',
  async run(ctx: BenchContext): Promise<SectionResult> {
    const append = ctx.options.quick ? 20_000 : 200_000;
    const verify = ctx.options.quick ? 100_000 : 1_000_000;
    const results: WorkerResult[] = [];
    ctx.log(`audit: sqlite (${append} appends, ${verify} verified)`);
    results.push(await runWorker(ctx, 'sqlite', `sqlite:${join(ctx.tmpDir, 'audit-bench.db')}`, append, verify));
    const database = `gatehouse_bench_${randomBytes(6).toString('hex')}`;
    let note = '';
    try {
      await admin(`create database ${pg.escapeIdentifier(database)}`);
      try {
        const url = new URL(POSTGRES_URL);
        url.pathname = `/${database}`;
        ctx.log('audit: postgres');
        results.push(await runWorker(ctx, 'postgres', url.toString(), append, verify));
      } finally {
        await admin(`drop database if exists ${pg.escapeIdentifier(database)} with (force)`);
      }
    } catch (error) {
      note = `\nPostgreSQL not measured: ${(error as Error).message}\n`;
    }
    const k = (n: number) => Math.round(n).toLocaleString('en-US');
    const markdown = [
      `Audit writer in one Node process pinned to the proxy CPU: ${k(append)} access events appended in bursts of 500 with \`append\`, spool fdatasync with every group commit (≤ 1000 events or 5 ms per transaction), first with the batches committed on the main thread, then on the audit commit thread (\`audit.commitThread\`) moved to the load core; CPU µs/append: the worker's user + system CPU time (all threads) from the first append until the writer closed (last commit, the actor index's last bulk run, final checkpoint), divided by the appends (PostgreSQL's own CPU not included); store-down: the same appends with the store unreachable (spool only), then replayed into the store; verify: ${k(verify)} records, streamed in pages of 10,000.`,
      '',
      '| backend | durable appends/s | CPU µs/append | with commit thread: appends/s | CPU µs/append | spool-only appends/s | replay/s | verify records | verify s |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...results.map((r) => `| ${r.url} | ${k(r.append.eventsPerSec)} | ${r.append.cpuUsPerEvent.toFixed(1)} | ${r.appendThread ? k(r.appendThread.eventsPerSec) : '–'} | ${r.appendThread ? r.appendThread.cpuUsPerEvent.toFixed(1) : '–'} | ${k(r.storeDown.spoolEventsPerSec)} | ${k(r.storeDown.replayEventsPerSec)} | ${k(r.verify.records)} | ${(r.verify.ms / 1000).toFixed(2)} |`),
      '',
      `The same ${k(append)} appends as access records, the gateway's path for the events a request yields: each built from a finished request's context by the gateway's \`accessRecord\` (its redaction and canonical JSON included) and appended with \`appendAccess\`, which writes a turn's records to the spool in one write(2) and releases the turn's held responses after it; the table above appends one event at a time with one write(2) each (\`append\`), the path of events delivered by the bus.`,
      '',
      '| backend | access records: durable appends/s | CPU µs/append | with commit thread: appends/s | CPU µs/append |',
      '|---|---:|---:|---:|---:|',
      ...results.map((r) => `| ${r.url} | ${r.access ? k(r.access.eventsPerSec) : '–'} | ${r.access ? r.access.cpuUsPerEvent.toFixed(1) : '–'} | ${r.accessThread ? k(r.accessThread.eventsPerSec) : '–'} | ${r.accessThread ? r.accessThread.cpuUsPerEvent.toFixed(1) : '–'} |`),
      note,
    ].join('\n');
    return { markdown, data: results };
  },
};
