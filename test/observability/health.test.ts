/**
 * Readiness under load and under a hung dependency: a load balancer, the kubelet and
 * Prometheus all poll /readyz, often at once. Their polls must not multiply the checks run
 * against the store, the bus or Redis, and a check that never answers must neither hold
 * readiness up nor be started again on every poll (each would stay pending for good). Nor may
 * a loop polling /readyz run the checks as fast as they answer: each one is a round trip to a
 * database, Redis or NATS that every instance shares.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HealthRegistry, type DependencyStatus } from '../../src/observability/health.ts';

describe('HealthRegistry.readiness', () => {
  it('fifty concurrent readiness polls run each dependency check once, and all get its result', async () => {
    const health = new HealthRegistry('test');
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    health.register('store', async () => { calls += 1; await gate; return { ok: true, latencyMs: 1 }; });
    const polls = Array.from({ length: 50 }, () => health.readiness(1000));
    await new Promise((r) => setImmediate(r));
    release();
    const reports = await Promise.all(polls);
    assert.equal(calls, 1);
    for (const report of reports) assert.deepEqual([report.ready, report.dependencies.store!.ok], [true, true]);
    // Once settled, the next poll checks again (no stale result is served).
    await health.readiness(1000);
    assert.equal(calls, 2);
  });

  it('a hung dependency check times out without holding readiness up, and repeated polls do not pile up more hung checks', async () => {
    const health = new HealthRegistry('test');
    let hung = 0;
    health.register('bus', () => { hung += 1; return new Promise<DependencyStatus>(() => {}); });
    health.register('store', async () => ({ ok: true, latencyMs: 0 }));
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const report = await health.readiness(50);
      assert.ok(performance.now() - started < 1000);
      assert.equal(report.ready, false);
      assert.equal(report.dependencies.bus!.ok, false);
      assert.match(report.dependencies.bus!.detail ?? '', /timed out/);
      assert.equal(report.dependencies.store!.ok, true);
    }
    assert.equal(hung, 1, 'the pending check is waited on again, not started anew');
  });

  it('readiness polled in loops (one loop, then ten at once) starts at most a few checks a second of a dependency, and no poll gets the result of a check that had finished before it arrived', async () => {
    const health = new HealthRegistry('test');
    const settledAt: number[] = [];
    // A fast dependency: each check answers at once, so only spacing bounds how often it runs.
    health.register('store', async () => { settledAt.push(performance.now()); return { ok: true, latencyMs: 0, detail: String(settledAt.length - 1) }; });
    for (const loops of [1, 10]) {
      const before = settledAt.length;
      const until = performance.now() + 1000;
      const stale: string[] = [];
      await Promise.all(Array.from({ length: loops }, async () => {
        while (performance.now() < until) {
          const arrived = performance.now();
          const report = await health.readiness(1000);
          const check = Number(report.dependencies.store!.detail);
          if (settledAt[check]! < arrived) stale.push(`check ${check} settled ${(arrived - settledAt[check]!).toFixed(1)} ms before the poll`);
        }
      }));
      const checks = settledAt.length - before;
      assert.ok(checks <= 6, `${checks} checks in 1 s of polling by ${loops} loop(s)`);
      assert.deepEqual(stale, []);
    }
  });

  it('a check that throws synchronously is reported not ok instead of failing the whole report', async () => {
    const health = new HealthRegistry('test');
    health.register('pki', () => { throw new Error('boom'); });
    health.register('store', async () => ({ ok: true, latencyMs: 0 }));
    const report = await health.readiness(100);
    assert.equal(report.ready, false);
    assert.deepEqual([report.dependencies.pki!.ok, report.dependencies.pki!.detail, report.dependencies.store!.ok], [false, 'boom', true]);
  });
});
