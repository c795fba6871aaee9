/**
 * `ratelimit.failOpen: true` says: while Redis cannot answer, let requests through unchecked.
 * Two instances behind a load balancer that polls `/readyz` share one Redis; Redis goes away.
 * The instances must keep serving — and stay ready, or the load balancer takes every one of
 * them out at the same moment and the outage failOpen was chosen to avoid happens anyway.
 * Redis stays reported (not ok) in the readiness document.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { REDIS_URL, serviceOrSkip } from '../support/services.ts';
import { TcpRelay } from '../bus/tcp-relay.ts';

const skip = await serviceOrSkip('redis');

async function readiness(gw: TestGateway): Promise<{ status: number; ready: boolean; ratelimitOk: boolean | undefined }> {
  const res = await request(`${gw.opsUrl}/readyz`);
  const body = await res.body.json() as { ready: boolean; dependencies: Record<string, { ok: boolean }> };
  return { status: res.statusCode, ready: body.ready, ratelimitOk: body.dependencies.ratelimit?.ok };
}

for (const failOpen of [true, false]) {
  describe(`two instances on one Redis that goes away, ratelimit.failOpen ${failOpen}`, { skip }, () => {
    const target = new URL(REDIS_URL);
    let relay: TcpRelay;
    let app: TestUpstream;
    const instances: TestGateway[] = [];
    const keyPrefix = `gh-test:${randomBytes(4).toString('hex')}:`;

    before(async () => {
      relay = new TcpRelay(target.hostname, Number(target.port || 6379));
      await relay.start();
      app = await startUpstream();
      for (const name of ['a', 'b']) {
        instances.push(await startGateway({
          instanceId: `rl-${name}`,
          identity: { enabled: false },
          pki: { enabled: false },
          // The relay's cut closes connections, so Redis going away is seen at once whatever the
          // timeout; 200 ms let a loaded machine's slow answer count as Redis gone (CI, 04:50).
          ratelimit: { url: `redis://127.0.0.1:${relay.port}`, failOpen, timeoutMs: 1000, keyPrefix, identity: { rate: 1, periodMs: 60_000, burst: 3 } },
          upstreams: { app: { url: app.url } },
          routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }],
        }, { compose: true }));
      }
    });

    after(async () => {
      for (const gw of instances) await gw.close();
      await app.close();
      await relay.cut();
    });

    it(failOpen
      ? 'keeps serving and stays ready (Redis reported not ok), so the load balancer does not drain every instance at once'
      : 'refuses requests with 503 ERR_RATELIMIT_UNAVAILABLE and reports not ready', async () => {
      for (const gw of instances) {
        assert.equal((await gw.fetch('/app')).status, 200);
        assert.deepEqual(await readiness(gw), { status: 200, ready: true, ratelimitOk: true });
      }
      await relay.cut();
      for (const gw of instances) {
        const res = await gw.fetch('/app');
        if (failOpen) {
          assert.equal(res.status, 200, 'let through unchecked');
          assert.deepEqual(await readiness(gw), { status: 200, ready: true, ratelimitOk: false });
        } else {
          assert.equal(res.status, 503);
          assert.match(res.body, /ERR_RATELIMIT_UNAVAILABLE/);
          assert.deepEqual(await readiness(gw), { status: 503, ready: false, ratelimitOk: false });
        }
      }
    });

    if (failOpen) {
      it('still limits while Redis is away: a client is refused with 429 after the burst on each instance, and the shared limit is back once Redis answers', async () => {
        // Redis went away in the test before; one request per instance has been decided in memory since.
        for (const gw of instances) {
          assert.deepEqual([(await gw.fetch('/app')).status, (await gw.fetch('/app')).status, (await gw.fetch('/app')).status], [200, 200, 429]);
          assert.deepEqual(await readiness(gw), { status: 200, ready: true, ratelimitOk: false });
        }
        await relay.restore();
        for (const gw of instances) {
          const deadline = Date.now() + 10_000;
          let seen = await readiness(gw);
          while (!seen.ratelimitOk && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 100));
            seen = await readiness(gw);
          }
          assert.deepEqual(seen, { status: 200, ready: true, ratelimitOk: true });
        }
        // Redis holds the bucket: 2 of 3 spent before the outage, so one more across the fleet.
        assert.equal((await instances[0]!.fetch('/app')).status, 200, 'decided by Redis: the in-memory bucket of this instance is empty');
        assert.equal((await instances[1]!.fetch('/app')).status, 429);
      });
    }
  });
}
