/**
 * Part of the pki section, run in a child pinned to the proxy CPU: the certificate
 * authority in process, with no network in between.
 *
 * - client side: `createKeyAndCsr` (what WorkloadIdentity does before it asks for a
 *   certificate: a fresh ECDSA P-256 key pair and a CSR signed with it);
 * - CA side: `CertificateAuthority.issue()` (parse and verify the CSR, check the names,
 *   build and sign the leaf, store the record) on the in-memory repository (the CA's own
 *   work alone), on SQLite (the embedded store) and on PostgreSQL (when a URL is given).
 *
 *   npx node test/bench/sections/pki-inprocess.ts '{"seconds":2,"concurrency":[1,16],"sqliteFile":"/tmp/x.db"}'
 *
 * Prints one line `GATEHOUSE_PKI_INPROCESS_JSON {…}`.
 */
import { randomBytes } from 'node:crypto';
import type { CpuReport } from '../lib/cpu.ts';
import { pkiSchema } from '../../../src/core/config/pki-schema.ts';
import { CertificateAuthority } from '../../../src/pki/authority.ts';
import { initCa } from '../../../src/pki/ca-init.ts';
import { createKeyAndCsr } from '../../../src/pki/key-and-csr.ts';
import { parseCsr } from '../../../src/pki/csr.ts';
import { MemoryPkiRepository } from '../../../src/pki/memory-repository.ts';
import type { PkiRepository } from '../../../src/pki/repository.ts';
import { openStore } from '../../../src/store/open-store.ts';
import { createPkiRepo } from '../../../src/store/repos/pki-repo.ts';
import type { Store } from '../../../src/store/types.ts';
import { WINDOW_END, WINDOW_START } from './pki-load.ts';

export const INPROCESS_MARKER = 'GATEHOUSE_PKI_INPROCESS_JSON ';

export interface InProcessOptions {
  seconds: number;
  concurrency: number[];
  sqliteFile: string;
  /** PostgreSQL database made for this run (created and dropped by the caller). */
  postgresUrl?: string;
}

/** One measured operation at one concurrency. */
export interface InProcessFigure {
  what: 'csr' | 'parse' | 'issue';
  backend: 'client' | 'memory' | 'sqlite' | 'postgres';
  concurrency: number;
  count: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU over this figure's window: `proxyProcessPercent` is this process's share of its core (added by the parent). */
  cpu?: CpuReport;
}

export interface InProcessResult {
  figures: InProcessFigure[];
  /** Why PostgreSQL was not measured, when it was not. */
  postgresNote?: string;
}

const SPIFFE_ID = 'spiffe://gatehouse.internal/svc/bench';

let windows = 0;

/**
 * Runs `op` from `concurrency` loops for `seconds`; latency of each call in ms. A measured
 * run (not a warm-up) is announced as a window, so the parent measures CPU over it.
 */
async function closedLoop(seconds: number, concurrency: number, op: (i: number) => Promise<unknown>, measured = true): Promise<{ count: number; perSecond: number; p50Ms: number; p99Ms: number }> {
  const window = measured ? windows++ : undefined;
  if (window !== undefined) process.stdout.write(`${WINDOW_START} ${window}\n`);
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const i = next++;
      const t = performance.now();
      await op(i);
      latencies.push(performance.now() - t);
    }
  }));
  const elapsedS = (performance.now() - started) / 1000;
  if (window !== undefined) process.stdout.write(`${WINDOW_END} ${window}\n`);
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { count: latencies.length, perSecond: latencies.length / elapsedS, p50Ms: at(0.5), p99Ms: at(0.99) };
}

async function openCa(repo: PkiRepository): Promise<CertificateAuthority> {
  const masterKey = randomBytes(32);
  const config = pkiSchema.parse({});
  await initCa({ repo, masterKey, config });
  return CertificateAuthority.open({ repo, masterKey, config, publicUrl: 'https://localhost:8443' });
}

async function measureIssue(backend: InProcessFigure['backend'], repo: PkiRepository, csrs: string[], options: InProcessOptions, figures: InProcessFigure[]): Promise<void> {
  const ca = await openCa(repo);
  const issue = (i: number) => ca.issue({ csr: csrs[i % csrs.length]!, spiffeId: SPIFFE_ID });
  // Warm-up: JIT, prepared statements, the store's connections.
  await closedLoop(Math.min(0.5, options.seconds), 4, issue, false);
  // In memory, concurrent calls can only share one core's CPU: one run says all.
  for (const concurrency of backend === 'memory' ? options.concurrency.slice(0, 1) : options.concurrency) {
    figures.push({ what: 'issue', backend, concurrency, ...await closedLoop(options.seconds, concurrency, issue) });
  }
}

async function withStore(url: string, concurrency: number[], work: (store: Store) => Promise<void>): Promise<void> {
  const store = await openStore(url, { poolMax: Math.min(10, Math.max(...concurrency)) });
  try {
    await store.migrate();
    await work(store);
  } finally {
    await store.close();
  }
}

/** Measures in this process. */
export async function run(options: InProcessOptions): Promise<InProcessResult> {
  const figures: InProcessFigure[] = [];
  // Client side first; its CSRs (one key each, as workloads have) feed the CA side.
  const csrs: string[] = [];
  const makeCsr = async () => { csrs.push((await createKeyAndCsr(SPIFFE_ID)).csrPem); };
  await closedLoop(Math.min(0.3, options.seconds), 1, makeCsr, false);
  figures.push({ what: 'csr', backend: 'client', concurrency: 1, ...await closedLoop(options.seconds, 1, makeCsr) });
  csrs.splice(256);
  // The first step of issue() alone: parse the CSR and verify its self-signature.
  const parse = (i: number) => parseCsr(csrs[i % csrs.length]!);
  await closedLoop(Math.min(0.3, options.seconds), 1, parse, false);
  figures.push({ what: 'parse', backend: 'client', concurrency: 1, ...await closedLoop(options.seconds, 1, parse) });

  await measureIssue('memory', new MemoryPkiRepository(), csrs, options, figures);
  await withStore(`sqlite:${options.sqliteFile}`, options.concurrency, (store) => measureIssue('sqlite', createPkiRepo(store.db), csrs, options, figures));
  let postgresNote: string | undefined;
  if (!options.postgresUrl) postgresNote = 'no PostgreSQL reachable';
  else await withStore(options.postgresUrl, options.concurrency, (store) => measureIssue('postgres', createPkiRepo(store.db), csrs, options, figures));
  return { figures, ...(postgresNote ? { postgresNote } : {}) };
}

if (import.meta.main) {
  const options = JSON.parse(process.argv[2] ?? '{}') as InProcessOptions;
  process.stdout.write(`${INPROCESS_MARKER}${JSON.stringify(await run(options))}\n`);
}
