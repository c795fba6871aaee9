/**
 * The pki section's markdown: ratios come from the runs they claim to compare, and a
 * missing part says why instead of printing empty tables.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CpuReport } from '../lib/cpu.ts';
import type { WrkResult } from '../lib/wrk.ts';
import { renderPkiSection, type MtlsFigure, type PkiSectionData } from './pki-report.ts';

const cpu = (proxy: number, others = 0): CpuReport => ({ proxyProcessPercent: proxy, otherProcessesPercent: others, busyPercentPerCpu: [100, 100] });

function wrk(requestsPerSecond: number, p99: number): WrkResult {
  return {
    durationS: 5, requests: requestsPerSecond * 5, requestsPerSecond,
    latencyMs: { p50: 1, p90: 2, p99, p999: p99, max: p99, mean: 1 },
    errors: { connect: 0, read: 0, write: 0, timeout: 0, status: 0 },
  };
}

function data(mtls: MtlsFigure[]): PkiSectionData {
  return {
    inProcess: { figures: [], postgresNote: 'no PostgreSQL reachable' },
    gatehouse: { available: true, quiet: [], httpIssue: [], handshakes: [], mtls, failures: [] },
    settings: {},
  };
}

test('pki report: mTLS ÷ plain is taken round by round, and its median reported', () => {
  // Round 2 is disturbed for the plain run only: a ratio of medians would say 1.25, paired rounds say 0.8.
  const figures: MtlsFigure[] = [
    { hop: 'plain HTTP', round: 1, connections: 100, wrk: wrk(5000, 20), cpu: cpu(100) },
    { hop: 'mTLS', round: 1, connections: 100, wrk: wrk(4000, 25), cpu: cpu(100) },
    { hop: 'plain HTTP', round: 2, connections: 100, wrk: wrk(2000, 80), cpu: cpu(50, 90) },
    { hop: 'mTLS', round: 2, connections: 100, wrk: wrk(4000, 25), cpu: cpu(100) },
    { hop: 'plain HTTP', round: 3, connections: 100, wrk: wrk(6000, 20), cpu: cpu(100) },
    { hop: 'mTLS', round: 3, connections: 100, wrk: wrk(4800, 20), cpu: cpu(100) },
  ];
  const markdown = renderPkiSection(data(figures));
  assert.match(markdown, /\| req\/s \| 0\.80 \| 0\.80 \/ 2\.00 \/ 0\.80 \|/);
  // Per core: 5000, 4000 (2000 at 50 %), 6000 against 4000, 4000, 4800.
  assert.match(markdown, /\| req\/s per Gatehouse core \| 0\.80 \| 0\.80 \/ 1\.00 \/ 0\.80 \|/);
  assert.match(markdown, /\| 90 ⚠ \|/, 'the disturbed run is marked');
});

test('pki report: a Gatehouse that could not be measured is named with its reason', () => {
  const markdown = renderPkiSection({ inProcess: { error: 'child exited 1\nstack' }, gatehouse: { available: false, reason: 'src/cli/main.ts is not committed yet' }, settings: {} });
  assert.match(markdown, /In-process issuance: \*\*not measured\*\* \(child exited 1\)/);
  assert.match(markdown, /\*\*Gatehouse not available\*\* \(src\/cli\/main\.ts is not committed yet\)/);
  assert.doesNotMatch(markdown, /#### Proxied requests/);
});
