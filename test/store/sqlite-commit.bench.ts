/**
 * Micro-benchmark: main-thread cost of audit-like append batches on SQLite, with the WAL
 * checkpoint inside COMMIT (SQLite's automatic one) against the worker-thread checkpointer,
 * A/B interleaved in one run (variants: auto, worker, worker@<minIntervalMs>, each optionally
 * +cache, the store's page cache, else SQLite's 2 MiB default; +mmap). Each batch is what the audit writer does: one transaction with
 * lockHead + insertRecords (1000 rows) + setHead, then a 25 ms pause (the writer's cadence).
 *
 * Reported per row: main-thread wall time inside the transaction and main-thread CPU
 * (`process.threadCpuUsage`, so the worker's own CPU is not counted there; the other threads'
 * CPU during the transactions is reported apart: the process total minus the main thread).
 *
 *   node_modules/.bin/node test/store/sqlite-commit.bench.ts [batches=120] [rounds=3] [variants=auto,worker,worker+cache]
 *   (prefix with `taskset -c 1` to share one CPU between the main thread and the worker, as the bench harness pins the proxy)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kysely, Migrator } from 'kysely';
import type { AuditRecord } from '../../src/audit/record.ts';
import type { Database } from '../../src/store/database.ts';
import { MIGRATIONS } from '../../src/store/migrations/index.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { NodeSqliteDialect } from '../../src/store/sqlite/node-sqlite-dialect.ts';
import { acquireSqlite, type SqliteHandle } from '../../src/store/sqlite/shared-sqlite.ts';

const BATCHES = Number(process.argv[2] ?? 120);
const ROUNDS = Number(process.argv[3] ?? 3);
const VARIANTS = (process.argv[4] ?? 'auto,worker,worker+cache').split(',');
const ROWS = 1000;
const WARMUP = 20;

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-commit-bench-'));
let seqs = 0;

function record(chain: string, seq: number): AuditRecord {
  const n = ++seqs;
  const hex = (n * 2654435761 % 2 ** 32).toString(16).padStart(8, '0').repeat(8);
  return {
    chain, seq, time: Date.now(), instance: 'bench-1', event: 'gateway.access', eventId: `evt-${n}-${hex.slice(0, 16)}`,
    requestId: `req-${hex.slice(8, 24)}`, traceId: hex.slice(0, 32), actor: `user-${n % 500}`, actorKind: 'user',
    action: 'GET', resource: `/api/items/${n % 9973}`, outcome: 'success', decisionId: null, reasons: null,
    clientAddress: `10.0.${n % 256}.${(n >> 8) % 256}`,
    details: JSON.stringify({ status: 200, route: 'items', upstream: 'items-svc', durationMs: n % 97, bytes: 1000 + (n % 5000) }),
    prevHash: hex, hash: hex.split('').reverse().join(''),
  } as AuditRecord;
}

interface Result { wallUsPerRow: number; cpuUsPerRow: number; otherCpuUsPerRow: number; processCpuUsPerRow: number }

async function round(variant: string, index: number): Promise<Result> {
  const file = join(dir, `${variant}-${index}.db`);
  let handle: SqliteHandle | undefined;
  const db = new Kysely<Database>({
    dialect: new NodeSqliteDialect(() => {
      const interval = /@(\d+)/.exec(variant)?.[1];
      handle = acquireSqlite(file, { busyTimeoutMs: 5000, walCheckpointer: variant.startsWith('worker') ? { afterRows: 1, ...(interval ? { minIntervalMs: Number(interval) } : {}) } : false });
      // The store's setting; 'cache' runs with it, the others with SQLite's default.
      if (!variant.includes('cache')) handle.db.exec('pragma cache_size = -2000');
      if (variant.includes('mmap')) handle.db.exec('pragma mmap_size = 268435456');
      return handle;
    }),
  });
  const migrated = await new Migrator({ db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) }, migrationTableName: 'gatehouse_migrations', migrationLockTableName: 'gatehouse_migrations_lock' }).migrateToLatest();
  if (migrated.error) throw migrated.error;
  const chain = 'access';
  let wall = 0;
  let cpu = 0;
  let total = 0;
  let seq = 0;
  let roundStart = process.cpuUsage();
  for (let b = 0; b < WARMUP + BATCHES; b++) {
    const measured = b >= WARMUP;
    if (b === WARMUP) roundStart = process.cpuUsage();
    // Built before the clock starts: the writer has its records at hand when it commits.
    const records: AuditRecord[] = [];
    for (let i = 1; i <= ROWS; i++) records.push(record(chain, seq + i));
    const startWall = performance.now();
    const startCpu = process.threadCpuUsage();
    const startTotal = process.cpuUsage();
    await db.transaction().execute(async (trx) => {
      const repo = createAuditRepo(trx, 'sqlite');
      const head = await repo.lockHead(chain, '0'.repeat(64));
      if (head.seq !== seq) throw new Error(`head at ${head.seq}, expected ${seq}`);
      await repo.insertRecords(records);
      await repo.setHead({ chain, seq: head.seq + ROWS, hash: records[ROWS - 1]!.hash }, Date.now());
    });
    seq += ROWS;
    if (measured) {
      wall += performance.now() - startWall;
      const c = process.threadCpuUsage(startCpu);
      const t = process.cpuUsage(startTotal);
      cpu += c.user + c.system;
      total += t.user + t.system;
    }
    await sleep(25);
  }
  const active = handle?.checkpointer?.active ?? false;
  if (active !== variant.startsWith('worker')) throw new Error(`${variant}: checkpointer active = ${active}`);
  // All threads over the measured batches and their pauses: the checkpoints' own cost included.
  const whole = process.cpuUsage(roundStart);
  await db.destroy();
  const rows = BATCHES * ROWS;
  return { wallUsPerRow: (wall * 1000) / rows, cpuUsPerRow: cpu / rows, otherCpuUsPerRow: (total - cpu) / rows, processCpuUsPerRow: (whole.user + whole.system) / rows };
}

const results = new Map<string, Result[]>(VARIANTS.map((v) => [v, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const variant of r % 2 === 0 ? VARIANTS : [...VARIANTS].reverse()) {
    const res = await round(variant, r);
    results.get(variant)!.push(res);
    console.log(`round ${r} ${variant.padEnd(14)} wall ${res.wallUsPerRow.toFixed(2)} µs/row  main cpu ${res.cpuUsPerRow.toFixed(2)} µs/row  other threads cpu (in txn) ${res.otherCpuUsPerRow.toFixed(2)} µs/row  process cpu (all threads, whole round) ${res.processCpuUsPerRow.toFixed(2)} µs/row`);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`\nmedians over ${ROUNDS} rounds of ${BATCHES} × ${ROWS}-row batches (25 ms apart):`);
for (const [variant, rs] of results) {
  console.log(`${variant.padEnd(14)} wall ${median(rs.map((r) => r.wallUsPerRow)).toFixed(2)} µs/row  main cpu ${median(rs.map((r) => r.cpuUsPerRow)).toFixed(2)} µs/row  process cpu ${median(rs.map((r) => r.processCpuUsPerRow)).toFixed(2)} µs/row`);
}
rmSync(dir, { recursive: true, force: true });
