/**
 * Part of the pki section: the load client, run as a child pinned to the load CPU.
 *
 * `handshakes`: every request on a new TLS connection (`GET <path>`, `Connection: close`),
 * either with a full handshake each time (`resumption: false`) or resuming the session of
 * the connection before (`resumption: true`: the newest TLS 1.3 session ticket the server
 * sent, passed to `tls.connect({ session })`). Every connection is checked: the answer must
 * be `200`, and `socket.isSessionReused()` is counted, so a server that ignores tickets shows
 * up as a low resumption rate instead of passing for a fast one.
 *
 * `issue`: first issuance over Gatehouse's HTTP API (`POST <apiPath>/issue`) with
 * `PkiApiClient`, one bootstrap token per request (tokens from a file, made beforehand) and
 * CSRs made beforehand (their cost is measured apart, in pki-inprocess.ts).
 *
 *   npx node test/bench/sections/pki-load.ts '<JSON LoadOptions>'
 *
 * Prints one line `GATEHOUSE_PKI_LOAD_JSON {…}`.
 */
import { readFile } from 'node:fs/promises';
import { connect, type TLSSocket } from 'node:tls';
import { PkiApiClient } from '../../../src/pki/client/pki-api-client.ts';
import { createKeyAndCsr } from '../../../src/pki/key-and-csr.ts';
import { toGatehouseError } from '../../../src/core/errors.ts';

export const LOAD_MARKER = 'GATEHOUSE_PKI_LOAD_JSON ';
/**
 * Printed (with the run's index) when a run's measured window starts and ends, so that the
 * parent measures CPU over the window alone.
 */
export const WINDOW_START = 'GATEHOUSE_PKI_WINDOW_START';
export const WINDOW_END = 'GATEHOUSE_PKI_WINDOW_END';

/** One closed-loop run: unrecorded warm-up, then the measured window. */
export interface RunShape { concurrency: number; warmupS: number; durationS: number }

export interface HandshakeLoadOptions {
  kind: 'handshakes';
  host: string;
  /** Server name sent in SNI and checked against the certificate. */
  servername: string;
  caFile: string;
  path: string;
  /**
   * Run one after another in this process (one start-up for all); each names its server's
   * port, so that runs against several servers can alternate.
   */
  runs: Array<RunShape & { port: number; resumption: boolean }>;
}

export interface IssueLoadOptions {
  kind: 'issue';
  gatehouseUrl: string;
  apiPath: string;
  caFile: string;
  spiffeId: string;
  /** Each run has its own file of bootstrap tokens, one a line; each token is used once. */
  runs: Array<RunShape & { tokensFile: string }>;
}

export type LoadOptions = HandshakeLoadOptions | IssueLoadOptions;

export interface LoadResult {
  /** Completed, successful operations in the measured window. */
  count: number;
  perSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** Handshakes only: time to the end of the handshake (`secureConnect`), p50. */
  handshakeP50Ms?: number;
  failures: number;
  firstFailure?: string;
  /** Handshakes only: connections whose session was resumed, of all measured ones. */
  resumed?: number;
  /** Issue only: the run ended early because every token was used. */
  tokensExhausted?: boolean;
  measuredS: number;
}

interface Sample { ms: number; handshakeMs?: number; resumed?: boolean }

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/**
 * Runs `op` from `concurrency` loops: first `warmupS` unrecorded, then `durationS` recorded.
 * An operation that fails is counted and the loop goes on; `stop()` from inside ends the run.
 */
async function closedLoop(index: number, options: RunShape, op: (loop: number, stop: () => void) => Promise<Sample | undefined>): Promise<LoadResult> {
  const samples: Sample[] = [];
  let failures = 0;
  let firstFailure: string | undefined;
  let stopped = false;
  const start = performance.now();
  const measureFrom = start + options.warmupS * 1000;
  const end = measureFrom + options.durationS * 1000;
  let lastEnd = measureFrom;
  const announce = setTimeout(() => process.stdout.write(`${WINDOW_START} ${index}\n`), options.warmupS * 1000);
  await Promise.all(Array.from({ length: options.concurrency }, async (_, loop) => {
    while (!stopped && performance.now() < end) {
      const began = performance.now();
      try {
        const sample = await op(loop, () => { stopped = true; });
        if (sample && began >= measureFrom) samples.push(sample);
      } catch (error) {
        if (began >= measureFrom) {
          failures += 1;
          firstFailure ??= error instanceof Error ? error.message : String(error);
        }
      }
      lastEnd = Math.max(lastEnd, performance.now());
    }
  }));
  clearTimeout(announce);
  process.stdout.write(`${WINDOW_END} ${index}\n`);
  const measuredS = Math.max(1e-3, (Math.min(lastEnd, end) - measureFrom) / 1000);
  const latencies = samples.map((s) => s.ms).sort((a, b) => a - b);
  const handshakes = samples.flatMap((s) => (s.handshakeMs === undefined ? [] : [s.handshakeMs])).sort((a, b) => a - b);
  return {
    count: samples.length,
    perSecond: samples.length / measuredS,
    latencyMs: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: latencies.at(-1) ?? 0 },
    ...(handshakes.length ? { handshakeP50Ms: percentile(handshakes, 0.5) } : {}),
    failures,
    ...(firstFailure ? { firstFailure: firstFailure.slice(0, 300) } : {}),
    ...(samples.some((s) => s.resumed !== undefined) ? { resumed: samples.filter((s) => s.resumed).length } : {}),
    measuredS,
  };
}

/** One GET on a new TLS connection; resolves when the server has closed it. */
function oneConnection(options: HandshakeLoadOptions, port: number, ca: string, session: Buffer | undefined, onSession: (s: Buffer) => void): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const began = performance.now();
    let handshakeMs: number | undefined;
    let resumed = false;
    let head = '';
    const socket: TLSSocket = connect({
      host: options.host, port, servername: options.servername, ca,
      minVersion: 'TLSv1.3', ...(session ? { session } : {}),
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    // TLS 1.3 tickets arrive after the handshake; the newest one is used next time (a
    // server may send none on a resumed connection: then the previous one is kept).
    socket.on('session', onSession);
    socket.once('secureConnect', () => {
      handshakeMs = performance.now() - began;
      // Read now: once the socket is closed, isSessionReused() has no handle to ask.
      resumed = socket.isSessionReused();
      // write, not end: a half-close (TLS close_notify) before the answer makes servers drop it.
      socket.write(`GET ${options.path} HTTP/1.1\r\nHost: ${options.servername}:${port}\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => { if (head.length < 64) head += chunk.toString('latin1'); });
    socket.once('error', reject);
    socket.once('close', () => {
      if (!/^HTTP\/1\.1 200 /.test(head)) return reject(new Error(`answer was not 200: ${JSON.stringify(head.slice(0, 40))}`));
      resolve({ ms: performance.now() - began, ...(handshakeMs !== undefined ? { handshakeMs } : {}), resumed });
    });
  });
}

async function handshakes(options: HandshakeLoadOptions): Promise<LoadResult[]> {
  const ca = await readFile(options.caFile, 'utf8');
  const results: LoadResult[] = [];
  for (const [index, run] of options.runs.entries()) {
    // One session per loop, as one client would hold: the newest ticket of its last connection.
    const sessions = new Map<number, Buffer>();
    results.push(await closedLoop(index, run, async (loop) => {
      const session = run.resumption ? sessions.get(loop) : undefined;
      return oneConnection(options, run.port, ca, session, (s) => { if (run.resumption) sessions.set(loop, s); });
    }));
  }
  return results;
}

async function issue(options: IssueLoadOptions): Promise<LoadResult[]> {
  const ca = await readFile(options.caFile, 'utf8');
  // A pool of CSRs made before the clock starts: the client-side cost is measured apart.
  const csrs = await Promise.all(Array.from({ length: 32 }, async () => (await createKeyAndCsr(options.spiffeId)).csrPem));
  const client = new PkiApiClient({ gatehouseUrl: options.gatehouseUrl, apiPath: options.apiPath, gatehouseCa: ca });
  const results: LoadResult[] = [];
  try {
    for (const [index, run] of options.runs.entries()) {
      results.push(await issueRun(index, run, client, csrs));
    }
    return results;
  } finally {
    await client.close();
  }
}

async function issueRun(index: number, run: IssueLoadOptions['runs'][number], client: PkiApiClient, csrs: string[]): Promise<LoadResult> {
  const tokens = (await readFile(run.tokensFile, 'utf8')).split('\n').filter(Boolean);
  let next = 0;
  let exhausted = false;
  const result = await closedLoop(index, run, async (_loop, stop) => {
    const i = next++;
    const token = tokens[i];
    if (token === undefined) {
      exhausted = true;
      stop();
      return undefined;
    }
    const began = performance.now();
    try {
      await client.issue(csrs[i % csrs.length]!, token);
    } catch (error) {
      const e = toGatehouseError(error);
      throw new Error(`${e.code}: ${e.detail ?? e.message}`);
    }
    return { ms: performance.now() - began };
  });
  return { ...result, tokensExhausted: exhausted };
}

if (import.meta.main) {
  const options = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
  const result = options.kind === 'issue' ? await issue(options) : await handshakes(options);
  process.stdout.write(`${LOAD_MARKER}${JSON.stringify(result)}\n`);
}
