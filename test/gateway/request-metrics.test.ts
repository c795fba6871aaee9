import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics, type GatewayMetrics } from '../../src/observability/metrics.ts';
import { RequestMetrics } from '../../src/gateway/request-metrics.ts';

// The reference is prom-client itself: the same observations made through its own API.
function reference(): { metrics: GatewayMetrics; request(route: string, method: string, status: number, s: number): void; upstream(name: string, ms: number): void } {
  const metrics = createMetrics({ defaultMetrics: false });
  return {
    metrics,
    request(route, method, status, s) {
      metrics.requests.labels(route, method, String(status)).inc();
      metrics.duration.labels(route, String(status)).observe(s);
    },
    upstream(name, ms) {
      metrics.upstreamHealthy.labels(name).set(1);
      metrics.upstreamDuration.labels(name).observe(ms / 1000);
    },
  };
}

/**
 * Line by line equal, except that a `_sum` may differ in the last bits: the same floats
 * added in another order (per scrape, then into the total) do not round identically.
 */
function assertSameExposition(actual: string, expected: string, message: string): void {
  const a = actual.split('\n');
  const e = expected.split('\n');
  assert.equal(a.length, e.length, `${message}: line count`);
  for (let i = 0; i < a.length; i++) {
    const sum = /^(\S+_sum\{[^}]*\}) (\S+)$/.exec(e[i]!);
    const got = sum ? /^(\S+_sum\{[^}]*\}) (\S+)$/.exec(a[i]!) : null;
    if (sum && got && got[1] === sum[1]) {
      assert.ok(Math.abs(Number(got[2]) - Number(sum[2])) <= 1e-12 * Math.max(1, Math.abs(Number(sum[2]))), `${message}: ${a[i]} vs ${e[i]}`);
    } else {
      assert.equal(a[i], e[i], `${message}: line ${i + 1}`);
    }
  }
}

// Exact bucket bounds, values between them, above the last bound, zero, several label sets.
const SECONDS = [0, 0.0005, 0.0007, 0.001, 0.003, 0.05, 0.2, 1, 7.5, 30, 45];
const CALLS: [string, string, number][] = [['app', 'GET', 200], ['app', 'POST', 200], ['app', 'GET', 404], ['none', 'GET', 404], ['api', 'DELETE', 502]];

describe('request metrics (counted locally, handed to prom-client on read)', () => {
  test('a scrape shows exactly what prom-client shows for the same observations, across several scrapes', async () => {
    const local = createMetrics({ defaultMetrics: false });
    const counted = new RequestMetrics(local);
    const ref = reference();
    for (let round = 0; round < 3; round++) {
      for (const [i, s] of SECONDS.entries()) {
        const [route, method, status] = CALLS[(i + round) % CALLS.length]!;
        counted.request(route, method, status, s);
        ref.request(route, method, status, s);
        counted.observeUpstream(route, s * 1000);
        ref.upstream(route, s * 1000);
      }
      assertSameExposition(await local.registry.metrics(), await ref.metrics.registry.metrics(), `scrape ${round + 1}`);
    }
  });

  test('nothing observed: the same empty exposition as prom-client', async () => {
    const local = createMetrics({ defaultMetrics: false });
    new RequestMetrics(local);
    assert.equal(await local.registry.metrics(), await createMetrics({ defaultMetrics: false }).registry.metrics());
  });

  test('the JSON form (getMetricsAsJSON) sees the observations too', async () => {
    const local = createMetrics({ defaultMetrics: false });
    new RequestMetrics(local).request('app', 'GET', 200, 0.002);
    const json = await local.registry.getMetricsAsJSON();
    const requests = json.find((m) => m.name === 'gatehouse_http_requests_total')!;
    assert.deepEqual(requests.values.map((v) => [v.labels, v.value]), [[{ route: 'app', method: 'GET', status: '200' }, 1]]);
    const count = json.find((m) => m.name === 'gatehouse_http_request_duration_seconds')!.values.find((v) => (v as { metricName?: string }).metricName === 'gatehouse_http_request_duration_seconds_count');
    assert.equal(count?.value, 1);
  });
});
