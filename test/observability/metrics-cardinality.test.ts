/**
 * /metrics label cardinality. The status label is the response status, which an upstream
 * chooses: one that reflects a client's input (`/status/{code}`, an error code mapped
 * through) let a client give every route and method up to 900 counter series and 900
 * duration histograms (17 lines each), enough to overload the Prometheus that scrapes it.
 * Statuses HTTP registers (and 499) keep their own label; any other is counted under its class (`5xx`).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { STATUS_CODES } from 'node:http';
import { createMetrics } from '../../src/observability/metrics.ts';
import { RequestMetrics } from '../../src/gateway/request-metrics.ts';

function series(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

describe('request metrics cardinality', () => {
  it('an upstream answering every status from 100 to 999 does not give the route 900 series: unregistered statuses are counted under their class, none lost', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const counted = new RequestMetrics(metrics);
    for (let status = 100; status <= 999; status++) counted.request('app', 'GET', status, 0.01);
    const text = await metrics.registry.metrics();
    const requests = series(text, 'gatehouse_http_requests_total');
    const statuses = new Set(requests.map((l) => /status="([^"]*)"/.exec(l)![1]));
    // 499 is the access log's "client closed", Gatehouse's own.
    const registered = [...Object.keys(STATUS_CODES), '499'];
    assert.equal(statuses.size, registered.length + 9, [...statuses].join(' '));
    for (const s of registered) assert.ok(statuses.has(s), s);
    for (let c = 1; c <= 9; c++) assert.ok(statuses.has(`${c}xx`), `${c}xx`);
    // Every request is still counted once, in its own series or its class's.
    const total = requests.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    assert.equal(total, 900);
    const nines = requests.find((l) => l.includes('status="9xx"'))!;
    assert.equal(Number(nines.split(' ').pop()), 100);
    // The duration histogram has one series per label set too, and its +Inf bucket equals its count.
    const counts = series(text, 'gatehouse_http_request_duration_seconds_count');
    assert.equal(counts.length, statuses.size);
    for (const line of counts) {
      const labels = /\{(.*)\}/.exec(line)![1]!;
      const inf = series(text, 'gatehouse_http_request_duration_seconds_bucket').find((l) => l.includes(labels) && l.includes('le="+Inf"'))!;
      assert.equal(inf.split(' ').pop(), line.split(' ').pop(), labels);
    }
  });

  it('a scrape after an upstream reflected every status on many routes does not rescan the histogram state once per series: it stays one pass (it held the event loop, and every request, for seconds)', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const counted = new RequestMetrics(metrics);
    const traffic = () => { for (let r = 0; r < 10; r++) for (let status = 100; status <= 999; status++) counted.request(`route${r}`, 'GET', status, 0.01); };
    traffic();
    await metrics.registry.metrics();
    // Count enumerations of prom-client's per-label-set state of the duration histogram
    // during the next scrape: prom-client's own exposition walks it once.
    const histogram = metrics.duration as unknown as { hashMap: object };
    let walks = 0;
    histogram.hashMap = new Proxy(histogram.hashMap, { ownKeys(target) { walks++; return Reflect.ownKeys(target); } });
    traffic();
    const text = await metrics.registry.metrics();
    assert.ok(walks <= 2, `${walks} walks of the histogram state for ${10 * 900} cells`);
    // Nothing lost: every observation of both rounds is counted.
    const total = series(text, 'gatehouse_http_request_duration_seconds_count').reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    assert.equal(total, 2 * 10 * 900);
  });

  it('the first scrape after many new label sets does not scan the histogram state once per new series (1,200 new series held the event loop for 200–300 ms)', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const histogram = metrics.duration as unknown as { hashMap: object };
    let walks = 0;
    histogram.hashMap = new Proxy(histogram.hashMap, { ownKeys(target) { walks++; return Reflect.ownKeys(target); } });
    const counted = new RequestMetrics(metrics);
    for (let r = 0; r < 200; r++) for (const status of [200, 201, 304, 404, 502, 503]) counted.request(`route${r}`, 'GET', status, 0.01);
    const text = await metrics.registry.metrics();
    assert.ok(walks <= 2, `${walks} walks of the histogram state for 1,200 new series`);
    const counts = series(text, 'gatehouse_http_request_duration_seconds_count');
    assert.equal(counts.length, 1200);
    assert.ok(counts.every((l) => l.endsWith(' 1')), 'each new series holds its one observation');
  });
});
