/**
 * /readyz reports the last minute of traffic (observability/traffic-window.ts): requests,
 * server and client errors, the server error rate and latency percentiles.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { TrafficWindow } from '../../src/observability/traffic-window.ts';
import { startGateway } from '../support/gateway.ts';

describe('traffic window', () => {
  const T = 1_800_000_000_000;

  it('counts requests, 5xx and 4xx and gives the error rate and bucket percentiles over the last minute', () => {
    const w = new TrafficWindow();
    for (let i = 0; i < 90; i++) w.record(200, 3, T + i * 100);
    for (let i = 0; i < 9; i++) w.record(502, 40, T + 2000);
    w.record(404, 700, T + 3000);
    const s = w.summary(T + 10_000);
    assert.deepEqual([s.requests, s.serverErrors, s.clientErrors, s.serverErrorRate], [100, 9, 1, 0.09]);
    assert.equal(s.p50Ms, 5, 'the median falls in the (2.5, 5] ms bucket');
    assert.equal(s.p99Ms, 50, 'the 99th request is a 40 ms one');
  });

  it('forgets what is older than sixty seconds, also when a slot is reused', () => {
    const w = new TrafficWindow();
    w.record(500, 1, T);
    w.record(200, 1, T + 30_000);
    assert.equal(w.summary(T + 59_999).requests, 2);
    const later = w.summary(T + 60_000);
    assert.deepEqual([later.requests, later.serverErrors], [1, 0]);
    w.record(200, 1, T + 60_500); // the slot of T, a minute on
    assert.deepEqual([w.summary(T + 60_900).requests, w.summary(T + 60_900).serverErrors], [2, 0]);
    assert.equal(w.summary(T + 200_000).requests, 0);
    assert.equal(w.summary(T + 200_000).p99Ms, undefined);
  });

  it('a latency beyond the last bound reports the last bound', () => {
    const w = new TrafficWindow();
    w.record(504, 30_000, T);
    assert.equal(w.summary(T).p99Ms, 10_000);
  });
});

it('/readyz reports the requests the gateway served, with their errors, and stays ready while an upstream fails', async () => {
  const gw = await startGateway({
    upstreams: { down: { url: 'http://127.0.0.1:9' } },
    routes: [{ id: 'down', path: '/down', upstream: 'down', access: 'public' }],
  });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await gw.fetch('/down/x')).status, 502);
    assert.equal((await gw.fetch('/nowhere')).status, 404);
    const res = await request(`${gw.opsUrl}/readyz`);
    assert.equal(res.statusCode, 200);
    const report = await res.body.json() as { traffic: { requests: number; serverErrors: number; clientErrors: number; serverErrorRate: number; p99Ms: number } };
    assert.equal(report.traffic.requests, 4);
    assert.equal(report.traffic.serverErrors, 3);
    assert.equal(report.traffic.clientErrors, 1);
    assert.equal(report.traffic.serverErrorRate, 0.75);
    assert.ok(report.traffic.p99Ms > 0);
  } finally {
    await gw.close();
  }
});
