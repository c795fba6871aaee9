/**
 * gatehouse_upstream_healthy is what an operator alerts on: 0 after a connection failure,
 * 1 once the upstream answers again. It was set to 1 only on the upstream's first answer
 * ever, so one failed connection left it at 0 (and the alert firing) for the life of the process.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from '../../src/observability/metrics.ts';
import { RequestMetrics } from '../../src/gateway/request-metrics.ts';

async function healthy(metrics: ReturnType<typeof createMetrics>, upstream: string): Promise<number | undefined> {
  const json = await metrics.registry.getSingleMetric('gatehouse_upstream_healthy')!.get();
  return json.values.find((v) => v.labels.upstream === upstream)?.value;
}

describe('gatehouse_upstream_healthy', () => {
  it('an upstream that failed once and answers again is reported healthy again, not down for good', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const counted = new RequestMetrics(metrics);
    counted.observeUpstream('orders', 5);
    assert.equal(await healthy(metrics, 'orders'), 1);
    counted.upstreamFailed('orders', 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE');
    assert.equal(await healthy(metrics, 'orders'), 0);
    counted.observeUpstream('orders', 5);
    assert.equal(await healthy(metrics, 'orders'), 1);
    // A timeout is not a connection failure: the gauge keeps what it had.
    counted.upstreamFailed('orders', 'ERR_GATEWAY_UPSTREAM_TIMEOUT');
    assert.equal(await healthy(metrics, 'orders'), 1);
  });

  it('an upstream whose first exchange failed is reported down, then healthy once it answers', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const counted = new RequestMetrics(metrics);
    counted.upstreamFailed('mail', 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE');
    assert.equal(await healthy(metrics, 'mail'), 0);
    counted.observeUpstream('mail', 5);
    assert.equal(await healthy(metrics, 'mail'), 1);
  });
});

describe('gatehouse_upstream_healthy after a reload removed the upstream', () => {
  it('an upstream removed while down loses its series (an alert on it would fire for good), and a late failure of an old request does not bring it back', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const counted = new RequestMetrics(metrics);
    counted.upstreamFailed('legacy', 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE');
    counted.observeUpstream('orders', 5);
    assert.equal(await healthy(metrics, 'legacy'), 0);
    counted.keepUpstreams(['orders']);
    assert.equal(await healthy(metrics, 'legacy'), undefined);
    assert.equal(await healthy(metrics, 'orders'), 1);
    counted.upstreamFailed('legacy', 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE');
    counted.observeUpstream('legacy', 5);
    assert.equal(await healthy(metrics, 'legacy'), undefined);
    // Added again by a later reload: reported as before.
    counted.keepUpstreams(['orders', 'legacy']);
    counted.upstreamFailed('legacy', 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE');
    assert.equal(await healthy(metrics, 'legacy'), 0);
  });
});
