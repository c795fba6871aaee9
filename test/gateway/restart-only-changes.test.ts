/**
 * A reload says which changed settings wait for a restart. Before, only listeners, dataDir,
 * store and limits were named: a reload that changed detection thresholds, audit sampling,
 * the identity provider or the rate limiter's backend logged "configuration reloaded" and
 * nothing else, while the running components kept their old settings.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/core/config/load.ts';
import type { Config } from '../../src/core/config/schema.ts';
import { restartOnlyChanges } from '../../src/gateway/restart-only-changes.ts';
import { startGateway } from '../support/gateway.ts';

const base = (doc: Record<string, unknown> = {}): Config => parseConfig(doc, { env: {} }).config;

describe('settings that change only on restart', () => {
  it('names the sections built at start (detect, audit, identity, authn, pki, bus, logging) when they change', () => {
    const a = base();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ detect: { enabled: false } }, 'detect'],
      [{ audit: { sampling: { routes: { inbox: 0.5 } } } }, 'audit'],
      [{ logging: { level: 'debug' } }, 'logging'],
      [{ identity: { enabled: false } }, 'identity'],
      [{ bus: { url: 'nats://127.0.0.1:4222' } }, 'bus'],
      [{ ratelimit: { url: 'redis://127.0.0.1:6379' } }, 'ratelimit (backend: url, failOpen, timeoutMs, keyPrefix, maxKeys)'],
      [{ policy: { contextHeaders: ['x-tenant'] } }, 'policy (contextHeaders, cacheSize, assertion)'],
      [{ limits: { maxConnections: 10 } }, 'limits (listener limits)'],
    ];
    for (const [doc, key] of cases) {
      let b: Config;
      try { b = base(doc); } catch (err) { assert.fail(`${JSON.stringify(doc)} is not a valid change: ${(err as Error).message}`); }
      assert.deepEqual(restartOnlyChanges(a, b), [key], JSON.stringify(doc));
    }
  });

  it('names nothing for what a reload applies: routes, upstreams, rate limits, policy roles, body and header count limits', () => {
    const a = base();
    const b = base({
      upstreams: { u: { url: 'http://127.0.0.1:1' } },
      routes: [{ id: 'r', path: '/r', upstream: 'u', access: 'public' }],
      trustedProxies: ['10.0.0.0/8'],
      ratelimit: { edge: { rate: 5, periodMs: 1000, burst: 5 } },
      policy: { roles: { admin: ['editor'] } },
      limits: { maxBodyBytes: 1024, maxHeaderCount: 50, shutdownGraceMs: 1000 },
    });
    assert.deepEqual(restartOnlyChanges(a, b), []);
  });

  it('a reload that changes detection thresholds is applied for the rest and warns that detect needs a restart', async () => {
    const gw = await startGateway({}, { watch: false });
    try {
      await gw.writeConfig('detect:\n  enabled: false\n');
      const result = await gw.gateway.reload('test');
      assert.equal(result.applied, true);
      const warning = gw.logs.lines.find((l) => l.msg === 'these settings change only on restart');
      assert.ok(warning, 'a restart warning was logged');
      assert.ok((warning.keys as string[]).includes('detect'), `keys: ${JSON.stringify(warning.keys)}`);
    } finally {
      await gw.close();
    }
  });
});
