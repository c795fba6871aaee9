/**
 * Result types of the pki section, its ratios, and their markdown.
 */
import type { CpuReport, QuietCheck } from '../lib/cpu.ts';
import type { WrkResult } from '../lib/wrk.ts';
import { fixed, table } from '../lib/markdown.ts';
import type { InProcessResult } from './pki-inprocess.ts';
import type { LoadResult } from './pki-load.ts';

/** Issuance over Gatehouse's HTTP API at one concurrency. */
export interface HttpIssueFigure { concurrency: number; load: LoadResult; cpu: CpuReport }

/** New TLS connections (one request each) against one target. */
export interface HandshakeFigure {
  target: 'gatehouse' | 'nginx';
  resumption: boolean;
  concurrency: number;
  load: LoadResult;
  cpu: CpuReport;
}

/** Proxied keep-alive requests through Gatehouse with a plain or a mutual-TLS upstream hop. */
export interface MtlsFigure { hop: 'plain HTTP' | 'mTLS'; round: number; connections: number; wrk: WrkResult; cpu: CpuReport }

export interface GatehouseParts {
  available: true;
  quiet: QuietCheck[];
  httpIssue: HttpIssueFigure[];
  handshakes: HandshakeFigure[];
  mtls: MtlsFigure[];
  /** Runs that failed while their servers were up (the others are still reported). */
  failures: string[];
  tls?: { protocol: string; cipher: string };
}

export interface PkiSectionData {
  inProcess: InProcessResult | { error: string };
  gatehouse: GatehouseParts | { available: false; reason: string };
  settings: Record<string, unknown>;
}

const ms = (v: number): string => fixed(v, v < 10 ? 2 : 1);
const cpuCell = (cpu: CpuReport): string => (cpu.proxyProcessPercent === null ? '—' : fixed(cpu.proxyProcessPercent, 0));
const busy = (cpu: CpuReport): string => (cpu.busyPercentPerCpu.length ? cpu.busyPercentPerCpu.map((b) => fixed(b, 0)).join(' / ') : '—');
/** Marks a run during which other processes used more than a quarter of a core. */
const disturbed = (cpu: CpuReport): string => (cpu.otherProcessesPercent > 25 ? ' ⚠' : '');

/** Median of `values` (mean of the middle two for an even count), or NaN when there are none. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? fixed(a / b, 2) : '—';
}

/** Per second per fully used core of the measured server (its process group, all threads). */
function perCore(perSecond: number, cpu: CpuReport): string {
  const used = (cpu.proxyProcessPercent ?? 0) / 100;
  return used > 0.05 ? fixed(perSecond / used, 0) : '—';
}

function inProcessMarkdown(data: PkiSectionData['inProcess']): string {
  if ('error' in data) return `In-process issuance: **not measured** (${data.error.split('\n')[0]}).`;
  const rows = data.figures.map((f) => [
    f.what === 'csr' ? 'client: key pair + CSR (`createKeyAndCsr`, P-256)' : f.what === 'parse' ? 'CA, first step only: parse + verify the CSR (`parseCsr`)' : 'CA: `CertificateAuthority.issue()`',
    f.backend === 'client' ? '—' : f.backend, String(f.concurrency), fixed(f.perSecond, 0), ms(f.p50Ms), ms(f.p99Ms), String(f.count),
    f.cpu ? cpuCell(f.cpu) : '—', f.cpu ? perCore(f.perSecond, f.cpu) : '—', f.cpu ? `${fixed(f.cpu.otherProcessesPercent, 0)}${disturbed(f.cpu)}` : '—',
  ]);
  return [
    '#### Issuance in process (one Node process pinned to the proxy CPU)',
    '',
    table(['what', 'store', 'concurrency', 'per second', 'p50 ms', 'p99 ms', 'samples', 'process CPU %', 'per core-second', 'others\' CPU %'], rows),
    '',
    'The client side (what `WorkloadIdentity` does before each request: a fresh ECDSA P-256 key pair and a PKCS#10 CSR signed with it, WebCrypto + @peculiar/x509) is measured apart from the CA side: '
      + '`issue()` parses the CSR and verifies its self-signature, checks the names, builds and signs the leaf with the intermediate key (ECDSA P-256), and stores the record before returning it; its first step alone (`parseCsr`) is measured too, so that signing + storing ≈ issue − parse. '
      + '`memory` is the in-memory repository (the CA\'s own work, no store); `sqlite` the embedded store in a file; `postgres` a database made for this run on the local PostgreSQL (TCP, pool of up to 10). '
      + 'Concurrency 16 shows whether concurrent requests overlap (store round trips, libuv crypto threads) on one core. '
      + '"process CPU %" is the measuring process\'s share of its core (all threads; PostgreSQL\'s own work is not in it): well below 100 means it waited, for the store or for other processes on the core; "per core-second" divides by that share, which is fair only where the process never waits (rows without a store, and `memory`). In the `postgres` rows "others" includes PostgreSQL\'s server processes.'
      + (data.postgresNote ? ` PostgreSQL not measured: ${data.postgresNote}.` : ''),
  ].join('\n');
}

function httpIssueMarkdown(figures: HttpIssueFigure[]): string {
  const rows = figures.map((f) => [
    String(f.concurrency), fixed(f.load.perSecond, 0), ms(f.load.latencyMs.p50), ms(f.load.latencyMs.p99), String(f.load.count),
    String(f.load.failures), cpuCell(f.cpu), perCore(f.load.perSecond, f.cpu), `${fixed(f.cpu.otherProcessesPercent, 0)}${disturbed(f.cpu)}`, busy(f.cpu),
  ]);
  const notes = figures.flatMap((f) => [
    ...(f.load.tokensExhausted ? [`concurrency ${f.concurrency}: every prepared token was used before the end; the rate is over the ${fixed(f.load.measuredS, 1)} s it ran.`] : []),
    ...(f.load.firstFailure ? [`concurrency ${f.concurrency}, first failure: ${f.load.firstFailure}`] : []),
  ]);
  return [
    '#### Issuance over the HTTP API (bootstrap token, running Gatehouse)',
    '',
    table(['concurrency', 'issued/s', 'p50 ms', 'p99 ms', 'issued', 'failures', 'Gatehouse CPU %', 'issued per Gatehouse core-second', 'others\' CPU %', 'busy % per core'], rows),
    '',
    '`PkiApiClient.issue()` (the workload client\'s own code) from a child on the load CPU: `POST <apiPath>/issue` with a CSR made beforehand and a one-time bootstrap token made beforehand (each consumed once; the CA marks it used in the store before it signs), over keep-alive TLS connections to Gatehouse\'s public listener. '
      + 'Gatehouse runs `gatehouse start` with the embedded SQLite store, alone on the proxy CPU.',
    ...notes.map((n) => `Note: ${n}`),
  ].join('\n');
}

function handshakeMarkdown(figures: HandshakeFigure[]): string {
  // Measured alternately; shown grouped by target (a stable sort keeps the run order within).
  const rows = [...figures].sort((a, b) => a.target.localeCompare(b.target)).map((f) => [
    f.target, f.resumption ? 'resumed (TLS 1.3 ticket)' : 'full handshake', String(f.concurrency), fixed(f.load.perSecond, 0),
    ms(f.load.latencyMs.p50), ms(f.load.latencyMs.p99), f.load.handshakeP50Ms === undefined ? '—' : ms(f.load.handshakeP50Ms),
    f.load.count ? `${fixed(((f.load.resumed ?? 0) / f.load.count) * 100, 0)} %` : '—', String(f.load.failures),
    cpuCell(f.cpu), perCore(f.load.perSecond, f.cpu), `${fixed(f.cpu.otherProcessesPercent, 0)}${disturbed(f.cpu)}`, busy(f.cpu),
  ]);
  const at = (target: HandshakeFigure['target'], resumption: boolean, concurrency: number): number =>
    figures.find((f) => f.target === target && f.resumption === resumption && f.concurrency === concurrency)?.load.perSecond ?? Number.NaN;
  const coreAt = (target: HandshakeFigure['target'], resumption: boolean, concurrency: number): number => {
    const f = figures.find((x) => x.target === target && x.resumption === resumption && x.concurrency === concurrency);
    const used = (f?.cpu.proxyProcessPercent ?? 0) / 100;
    return f && used > 0.05 ? f.load.perSecond / used : Number.NaN;
  };
  const concurrencies = [...new Set(figures.map((f) => f.concurrency))];
  const ratioRows = concurrencies.flatMap((c) => [
    [`Gatehouse ÷ nginx, full handshakes`, String(c), ratio(at('gatehouse', false, c), at('nginx', false, c)), ratio(coreAt('gatehouse', false, c), coreAt('nginx', false, c))],
    [`Gatehouse ÷ nginx, resumed`, String(c), ratio(at('gatehouse', true, c), at('nginx', true, c)), ratio(coreAt('gatehouse', true, c), coreAt('nginx', true, c))],
    [`Gatehouse: resumed ÷ full`, String(c), ratio(at('gatehouse', true, c), at('gatehouse', false, c)), ratio(coreAt('gatehouse', true, c), coreAt('gatehouse', false, c))],
    [`nginx: resumed ÷ full`, String(c), ratio(at('nginx', true, c), at('nginx', false, c)), ratio(coreAt('nginx', true, c), coreAt('nginx', false, c))],
  ]);
  const notes = figures.filter((f) => f.load.firstFailure).map((f) => `${f.target}, ${f.resumption ? 'resumed' : 'full'}, concurrency ${f.concurrency}: ${f.load.firstFailure}`);
  return [
    '#### TLS handshakes at the public listener: a new connection per request, with and without resumption',
    '',
    table(['target', 'session', 'concurrency', 'connections/s', 'p50 ms', 'p99 ms', 'handshake p50 ms', 'resumed', 'failures', 'server CPU %', 'per server core-second', 'others\' CPU %', 'busy % per core'], rows),
    '',
    table(['ratio (same run)', 'concurrency', 'connections/s', 'per server core-second'], ratioRows),
    '',
    'Each connection: TCP connect, TLS 1.3 handshake (X25519, the bench\'s ECDSA P-256 certificate), `GET /` with `Connection: close` proxied to the nginx upstream, answer read to the server\'s close. '
      + 'The client (pki-load.ts, Node `tls.connect`, on the load CPU with the upstream) checks every answer is 200 and counts `isSessionReused()`; with resumption each client loop offers the newest ticket of its previous connection (`tls.connect({ session })`), as one client reconnecting would. '
      + 'Latency runs from `connect()` to the close; "handshake" to `secureConnect`. '
      + 'Gatehouse listens with its defaults, so it also asks for an optional client certificate (CertificateRequest; the client sends none); nginx is `startNginxProxy` (1 worker, default ticket settings). The two servers alternate run by run, so that a disturbance does not fall on one server only. '
      + 'A Node client costs more per connection than the server, so when the load core is busy near 100 % the figure is the client\'s limit and a lower bound of the server\'s; compare "per server core-second". '
      + '`openssl s_time -new/-reuse` was not used: it runs one connection at a time and reports only a count, without latencies or checks of each answer.',
    ...notes.map((n) => `Failures: ${n}`),
  ].join('\n');
}

/** Requests per second per fully used Gatehouse core, NaN without a CPU figure. */
const perCoreValue = (f: MtlsFigure): number => ((f.cpu.proxyProcessPercent ?? 0) > 5 ? f.wrk.requestsPerSecond / (f.cpu.proxyProcessPercent! / 100) : Number.NaN);

/**
 * mTLS ÷ plain per round (the two runs of a round are back to back, so they share the
 * machine's state more than runs of different rounds do), and the median over rounds.
 */
function pairedRatios(figures: MtlsFigure[], value: (f: MtlsFigure) => number): { perRound: number[]; median: number } {
  const rounds = [...new Set(figures.map((f) => f.round))];
  const perRound = rounds.map((round) => {
    const plain = figures.find((f) => f.round === round && f.hop === 'plain HTTP');
    const mtls = figures.find((f) => f.round === round && f.hop === 'mTLS');
    return plain && mtls && value(plain) > 0 ? value(mtls) / value(plain) : Number.NaN;
  }).filter(Number.isFinite);
  return { perRound, median: median(perRound) };
}

function mtlsMarkdown(figures: MtlsFigure[]): string {
  const rows = figures.map((f) => [
    f.hop, String(f.round), String(f.connections), fixed(f.wrk.requestsPerSecond, 0), ms(f.wrk.latencyMs.p50), ms(f.wrk.latencyMs.p99),
    String(f.wrk.errors.status + f.wrk.errors.connect + f.wrk.errors.read + f.wrk.errors.write + f.wrk.errors.timeout),
    cpuCell(f.cpu), perCore(f.wrk.requestsPerSecond, f.cpu), `${fixed(f.cpu.otherProcessesPercent, 0)}${disturbed(f.cpu)}`, busy(f.cpu),
  ]);
  const ratioRow = (label: string, value: (f: MtlsFigure) => number): string[] => {
    const r = pairedRatios(figures, value);
    return [label, Number.isFinite(r.median) ? fixed(r.median, 2) : '—', r.perRound.map((v) => fixed(v, 2)).join(' / ') || '—'];
  };
  return [
    '#### Proxied requests: mutual TLS to the upstream against plain HTTP, same Gatehouse, same run',
    '',
    table(['upstream hop', 'round', 'connections', 'req/s', 'p50 ms', 'p99 ms', 'errors + non-2xx', 'Gatehouse CPU %', 'req/s per Gatehouse core', 'others\' CPU %', 'busy % per core'], rows),
    '',
    table(['mTLS ÷ plain, same round', 'median', 'rounds 1 / 2 / 3'], [
      ratioRow('req/s', (f) => f.wrk.requestsPerSecond),
      ratioRow('req/s per Gatehouse core', perCoreValue),
      ratioRow('p99', (f) => f.wrk.latencyMs.p99),
    ]),
    '',
    'One Gatehouse, two public routes: `/` to the plain-HTTP nginx upstream, `/mtls` to an nginx upstream that speaks only mutual TLS (pki-nginx.ts): a certificate from Gatehouse\'s CA with the SPIFFE id `spiffe://gatehouse.internal/svc/bench-upstream`, '
      + '`ssl_verify_client on` with the CA\'s root and intermediate and both CRLs, so it verifies Gatehouse\'s workload certificate chain; Gatehouse checks the upstream\'s SPIFFE id (`upstreams.<name>.tls.spiffeId`). '
      + 'Before measuring, the section checks that the mTLS upstream answers 400 to a client without a certificate and 200 "ok" through Gatehouse. '
      + 'wrk (1 thread, load CPU) with keep-alive connections to Gatehouse\'s TLS listener; Gatehouse keeps its own keep-alive pool to each upstream (256 connections), so the upstream handshakes happen in the warm-up and the measured cost is the TLS record work on the second hop. '
      + 'The two routes are measured alternately and compared round by round; ⚠ marks a run during which other processes used more than a quarter of a core. '
      + 'On a shared machine, "req/s per Gatehouse core" is the steadier ratio: it divides out the CPU that others took from Gatehouse, though not what they took from the load side.',
  ].join('\n');
}

/** The section's markdown block. */
export function renderPkiSection(data: PkiSectionData): string {
  const parts = [inProcessMarkdown(data.inProcess)];
  const g = data.gatehouse;
  if (!g.available) {
    parts.push(`Issuance over HTTP, TLS handshakes and mTLS proxying: **Gatehouse not available** (${g.reason}).`);
  } else {
    if (g.httpIssue.length) parts.push(httpIssueMarkdown(g.httpIssue));
    if (g.handshakes.length) parts.push(handshakeMarkdown(g.handshakes));
    if (g.mtls.length) parts.push(mtlsMarkdown(g.mtls));
    const quiet = g.quiet.filter((q) => !q.quiet);
    if (quiet.length) parts.push(`The machine was busy before ${quiet.length} of ${g.quiet.length} parts (others above 25 % of a core after waiting ${quiet.map((q) => `${q.waitedS} s`).join(', ')}); read those rows as lower bounds.`);
    if (g.failures.length) parts.push(`Runs that failed: ${g.failures.map((f) => f.split('\n')[0]).join('; ')}`);
  }
  return parts.join('\n\n');
}
