/**
 * Smoke tests of the benchmark harness's pure parts: parsing recorded wrk and open-loop
 * output, the BENCHMARKS.md block rewrite, ratios and option parsing. No timing assertions:
 * speed is measured by `npm run bench`, never asserted here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseWrkOutput } from './lib/wrk.ts';
import { parseOpenLoopOutput } from './lib/open-loop.ts';
import { replaceBlock, table } from './lib/markdown.ts';
import { parseBenchArgs } from './lib/args.ts';
import { computeRatios, median, type ClosedLoopEntry, type TargetResult } from './sections/proxy-report.ts';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

test('parses a recorded wrk run into req/s, millisecond percentiles and error counts', () => {
  const result = parseWrkOutput(fixture('wrk-output.txt'));
  assert.equal(result.requests, 26017);
  assert.equal(result.durationS, 1.018028);
  assert.equal(result.requestsPerSecond, Math.round(26017 / 1.018028));
  assert.deepEqual(result.latencyMs, { p50: 2.396, p90: 6.28, p99: 9.954, p999: 11.501, max: 11.666, mean: 3.212 });
  assert.deepEqual(result.errors, { connect: 0, read: 0, write: 0, status: 0, timeout: 0 });
});

test('refuses wrk output that has no JSON summary line (wrk could not connect)', () => {
  assert.throws(() => parseWrkOutput(fixture('wrk-refused.txt')), /printed no GATEHOUSE_WRK_JSON line/);
});

test('refuses a wrk summary with a negative or missing count', () => {
  const good = fixture('wrk-output.txt').split('\n').find((l) => l.startsWith('GATEHOUSE_WRK_JSON'))!;
  assert.throws(() => parseWrkOutput(good.replace('"requests":26017', '"requests":-1')), /does not match its schema/);
  assert.throws(() => parseWrkOutput(good.replace('"timeout":0', '"timeout":0,"extra":1')), /does not match its schema/);
});

test('parses the open-loop client result of a refused target as errors, not latencies', () => {
  const result = parseOpenLoopOutput(fixture('open-loop-refused.txt'));
  assert.equal(result.completed, 0);
  assert.equal(result.errors, 100);
  assert.deepEqual(result.errorKinds, { ECONNREFUSED: 100 });
  assert.equal(result.latencyMs, null);
});

test('rewrites only the marked block of BENCHMARKS.md and appends a missing one', () => {
  const doc = '# Benchmarks\n\nprose\n\n<!-- bench:proxy:start -->\nold\n<!-- bench:proxy:end -->\n\nmore prose\n';
  const updated = replaceBlock(doc, 'proxy', 'new figures');
  assert.equal(updated, '# Benchmarks\n\nprose\n\n<!-- bench:proxy:start -->\nnew figures\n<!-- bench:proxy:end -->\n\nmore prose\n');
  const appended = replaceBlock(updated, 'policy', 'decisions');
  assert.ok(appended.startsWith(updated.trimEnd()));
  assert.ok(appended.endsWith('<!-- bench:policy:start -->\ndecisions\n<!-- bench:policy:end -->\n'));
});

test('escapes a pipe inside a markdown table cell', () => {
  assert.equal(table(['a', 'b'], [['x|y', '1']]), '| a | b |\n| --- | ---: |\n| x\\|y | 1 |');
});

const idleCpu = { proxyProcessPercent: null, otherProcessesPercent: 0, busyPercentPerCpu: [] };

function run(round: number, rps: number, p99: number): ClosedLoopEntry {
  return { round, connections: 100, cpu: idleCpu, limitedBy: 'proxy', wrk: { durationS: 1, requests: rps, requestsPerSecond: rps, latencyMs: { p50: 1, p90: 1, p99, p999: p99, max: p99, mean: 1 }, errors: { connect: 0, read: 0, write: 0, timeout: 0, status: 0 } } };
}

function target(id: TargetResult['id'], rps: number, p99: number, fixedP99: number | null): TargetResult {
  const cpu = idleCpu;
  return {
    id, label: id, available: true, failures: [],
    closedLoop: [run(1, rps, p99)],
    fixedRates: fixedP99 === null ? [] : [{
      targetRate: 5000, durationS: 1, sent: 5000, completed: 5000, completedPerSecond: 5000, non2xx: 0, errors: 0, errorKinds: {}, maxInFlight: 3,
      latencyMs: { p50: 1, p90: 1, p99: fixedP99, p999: fixedP99, max: fixedP99 }, generatorLagMs: { p99: 0, max: 0 }, cpu,
    }],
  };
}

test('computes Gatehouse ÷ peer ratios from the same run, and none without Gatehouse', () => {
  const peers = [target('direct', 40000, 2, 1), target('minimal-node', 10000, 10, 2), target('nginx', 20000, 5, null)];
  assert.equal(computeRatios(peers), null);
  const ratios = computeRatios([...peers, target('gatehouse', 5000, 20, 4)]);
  assert.deepEqual(ratios, [
    { subject: 'gatehouse', peer: 'direct', requestsPerSecond: { 100: 0.125 }, p99: { 100: 10 }, requestsPerSecondByRound: { 100: [0.125] }, fixedRateP99: { 5000: 4 } },
    { subject: 'gatehouse', peer: 'minimal-node', requestsPerSecond: { 100: 0.5 }, p99: { 100: 2 }, requestsPerSecondByRound: { 100: [0.5] }, fixedRateP99: { 5000: 2 } },
    { subject: 'gatehouse', peer: 'nginx', requestsPerSecond: { 100: 0.25 }, p99: { 100: 4 }, requestsPerSecondByRound: { 100: [0.25] }, fixedRateP99: { 5000: null } },
  ]);
});

test('compares the bare gateway with the minimal Node proxy, and Gatehouse with audit (commit thread on the other core or on one core, or allowed access sampled) against without', () => {
  const ratios = computeRatios([
    target('minimal-node', 10000, 10, 2), target('gatehouse', 3000, 30, 6), target('gatehouse-no-audit', 4000, 20, 3), target('gatehouse-bare', 9000, 12, null),
    target('gatehouse-audit-sampled', 3800, 22, 3), target('gatehouse-audit-one-core', 2000, 40, 6),
  ]);
  assert.deepEqual(ratios?.map((r) => [r.subject, r.peer, r.requestsPerSecond[100], r.p99[100]]), [
    ['gatehouse', 'minimal-node', 0.3, 3],
    ['gatehouse-bare', 'minimal-node', 0.9, 1.2],
    ['gatehouse', 'gatehouse-no-audit', 0.75, 1.5],
    ['gatehouse-audit-one-core', 'gatehouse-no-audit', 0.5, 2],
    ['gatehouse-audit-sampled', 'gatehouse-no-audit', 0.95, 1.1],
  ]);
});

test('takes closed-loop ratios within each round and reports their median, not the ratio of unrelated runs', () => {
  // Round 2 was slow for both (a neighbour on the VM): within-round ratios stay 0.9, 0.9, 0.8.
  const minimal = { ...target('minimal-node', 0, 0, null), closedLoop: [run(1, 10000, 10), run(2, 5000, 20), run(3, 10000, 10)] };
  const bare = { ...target('gatehouse-bare', 0, 0, null), closedLoop: [run(1, 9000, 11), run(2, 4500, 30), run(3, 8000, 12)] };
  const [ratio] = computeRatios([minimal, bare])!;
  assert.deepEqual(ratio!.requestsPerSecondByRound[100], [0.9, 0.9, 0.8]);
  assert.equal(ratio!.requestsPerSecond[100], 0.9);
  assert.equal(ratio!.p99[100], 1.2);
  // A round the peer did not complete is left out rather than paired with another round.
  const [partial] = computeRatios([{ ...minimal, closedLoop: minimal.closedLoop.slice(0, 1) }, bare])!;
  assert.deepEqual(partial!.requestsPerSecondByRound[100], [0.9]);
  assert.equal(median([3, 1, 2, 10]), 2.5);
  assert.equal(median([]), undefined);
});

test('rejects unknown sections, nonsense durations and a git option posing as a revision', () => {
  assert.throws(() => parseBenchArgs(['--only', 'nope'], ['proxy']), /unknown section/);
  assert.throws(() => parseBenchArgs(['--duration=-3'], ['proxy']), /--duration must be a positive number/);
  assert.throws(() => parseBenchArgs(['--gatehouse-tree', 'elsewhere'], ['proxy']), /--gatehouse-tree/);
  assert.throws(() => parseBenchArgs(['--gatehouse-ref=--output=/tmp/x'], ['proxy']), /--gatehouse-ref must be a git revision/);
  const quick = parseBenchArgs(['--quick', '--only', 'proxy'], ['proxy']);
  assert.deepEqual([quick.options.durationS, quick.options.warmupS, quick.options.rounds, quick.only], [2, 1, 1, ['proxy']]);
  assert.equal(parseBenchArgs([], ['proxy']).options.rounds, 4);
  assert.throws(() => parseBenchArgs(['--rounds', '0'], ['proxy']), /--rounds must be a positive number/);
  assert.deepEqual(parseBenchArgs(['--rate', '1000, 3000'], ['proxy']).options.rates, [1000, 3000]);
});
