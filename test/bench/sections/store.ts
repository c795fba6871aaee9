/**
 * Store section: kv repository operations per second and latency on the embedded SQLite
 * store and on PostgreSQL (when reachable), measured in a child pinned to the proxy CPU.
 * Register it in run.ts's SECTIONS to include it in `npm run bench`.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import type { BenchContext, Section, SectionResult } from '../lib/section.ts';

const POSTGRES_URL = process.env.GATEHOUSE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Figure { op: string; concurrency: number; ops: number; opsPerSec: number; p50Ms: number; p99Ms: number }
interface WorkerResult { dialect: string; seconds: number; concurrency: number; figures: Figure[] }

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  await client.connect();
  try { await client.query(statement); } finally { await client.end(); }
}

async function runWorker(ctx: BenchContext, label: string, url: string, seconds: number, concurrency: number): Promise<WorkerResult> {
  const worker = join(ctx.repoRoot, 'test/bench/store-kv-worker.ts');
  const { code, output } = await ctx.processes.run(`store-${label}`, ctx.nodeBin, [worker, url, String(seconds), String(concurrency)], { cpu: ctx.cpus.proxy, cwd: ctx.repoRoot });
  if (code !== 0) throw new Error(`store bench (${label}) failed: ${output}`);
  return JSON.parse(output.slice(output.indexOf('{'))) as WorkerResult;
}

export const storeSection: Section = {
  name: 'store',
  description: 'kv repository (OIDC provider storage): ops/s and latency on SQLite and PostgreSQL',
  async run(ctx: BenchContext): Promise<SectionResult> {
    const seconds = ctx.options.quick ? 1 : 3;
    const results: WorkerResult[] = [];
    for (const concurrency of [1, 16]) {
      ctx.log(`store: sqlite, concurrency ${concurrency}`);
      results.push(await runWorker(ctx, 'sqlite', `sqlite:${join(ctx.tmpDir, `store-bench-${concurrency}.db`)}`, seconds, concurrency));
    }
    const database = `gatehouse_bench_${randomBytes(6).toString('hex')}`;
    let postgresNote = '';
    try {
      await admin(`create database ${pg.escapeIdentifier(database)}`);
      try {
        const url = new URL(POSTGRES_URL);
        url.pathname = `/${database}`;
        for (const concurrency of [1, 16]) {
          ctx.log(`store: postgres, concurrency ${concurrency}`);
          results.push(await runWorker(ctx, 'postgres', url.toString(), seconds, concurrency));
        }
      } finally {
        await admin(`drop database if exists ${pg.escapeIdentifier(database)} with (force)`);
      }
    } catch (error) {
      postgresNote = `\nPostgreSQL not measured: ${(error as Error).message}\n`;
    }
    const rows = results.flatMap((r) => r.figures.map((f) =>
      `| ${r.dialect} | ${f.op} | ${f.concurrency} | ${Math.round(f.opsPerSec)} | ${f.p50Ms.toFixed(3)} | ${f.p99Ms.toFixed(3)} |`));
    const markdown = [
      `kv repository, ${seconds} s per operation, one Node process pinned to the proxy CPU; PostgreSQL on the same machine (local TCP), pool of up to 10.`,
      '',
      '| backend | operation | concurrency | ops/s | p50 ms | p99 ms |',
      '|---|---|---:|---:|---:|---:|',
      ...rows,
      postgresNote,
    ].join('\n');
    return { markdown, data: results };
  },
};
