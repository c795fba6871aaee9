/**
 * /metrics under concurrent scrapes. A render of a busy registry costs ~80 ms of the main
 * thread (the one that also serves every public request); whoever reaches the ops listener
 * (any pod of the cluster when it is bound to the pod address) could open twenty scrapes at
 * once, and twenty renders of the same registry took the event loop away from the gateway
 * for the whole time. Scrapes that arrive while a render is under way share it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Gauge, Registry } from 'prom-client';
import { createOpsServer } from '../../src/observability/ops-server.ts';
import { HealthRegistry } from '../../src/observability/health.ts';

describe('/metrics under concurrent scrapes', () => {
  it('twenty scrapes arriving during one render share it: the registry is read once, and every scraper gets the whole text', async () => {
    const registry = new Registry();
    let reads = 0;
    // A collect hook that takes a while stands in for a render of a large registry.
    new Gauge({
      name: 'test_slow', help: 'read slowly', labelNames: ['n'], registers: [registry],
      async collect() { reads += 1; await sleep(300); for (let n = 0; n < 50; n++) this.labels(String(n)).set(reads); },
    });
    const server = createOpsServer({ health: new HealthRegistry('t'), registry, isDraining: () => false, actions: () => new Map() });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const scrape = () => new Promise<{ status: number; body: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve({ status: res.statusCode!, body }));
      }).on('error', reject).end();
    });
    try {
      const results = await Promise.all(Array.from({ length: 20 }, scrape));
      assert.equal(reads, 1, `${reads} renders for 20 concurrent scrapes`);
      for (const { status, body } of results) {
        assert.equal(status, 200);
        assert.equal(body, results[0]!.body);
        assert.equal(body.split('\n').filter((l) => l.startsWith('test_slow{')).length, 50);
      }
      // Once that render is over, the next scrape reads the registry again (no stale text kept).
      const next = await scrape();
      assert.equal(reads, 2);
      assert.match(next.body, /test_slow\{n="0"\} 2/);
    } finally {
      await new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
    }
  });
});
