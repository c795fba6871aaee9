/**
 * A reload says which changed settings wait for a restart. Before, only listeners, dataDir,
 * store and limits were named: a reload that changed the identity provider or the rate
 * limiter's backend logged "configuration reloaded" and nothing else, while the running
 * components kept their old settings. Detection rules and the audit policy (redaction,
 * sampling rates) are applied by reload and are not named; the audit writer's settings are,
 * by sub-key.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseConfig } from '../../src/core/config/load.ts';
import type { Config } from '../../src/core/config/schema.ts';
import { restartOnlyChanges } from '../../src/gateway/restart-only-changes.ts';
import { startGateway } from '../support/gateway.ts';

const base = (doc: Record<string, unknown> = {}): Config => parseConfig(doc, { env: {} }).config;

describe('settings that change only on restart', () => {
  it('names the sections built at start (identity, authn, pki, bus) and the restart-only sub-keys of detect and audit when they change', () => {
    const a = base();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ detect: { blockRefreshMs: 1000 } }, 'detect (blockRefreshMs)'],
      [{ detect: { retentionDays: 7, bruteForceAddress: { threshold: 3 } } }, 'detect (retentionDays)'],
      [{ audit: { spoolDir: '/var/spool/gatehouse', fsync: false } }, 'audit (spoolDir, fsync)'],
      [{ audit: { signingKeyFile: '/etc/gatehouse/audit.jwk', redact: { patterns: ['acme-[0-9]{8}'] } } }, 'audit (signingKeyFile)'],
      [{ audit: { chain: 'edge-1', checkpoint: { everyRecords: 5 } } }, 'audit (chain, checkpoint)'],
      [{ audit: { enabled: false, retention: { maxAgeDays: 30 }, sampling: { flushMs: 5000 } } }, 'audit (enabled, retention, sampling.flushMs)'],
      [{ identity: { enabled: false } }, 'identity'],
      [{ bus: { url: 'nats://127.0.0.1:4222' } }, 'bus'],
      [{ ratelimit: { fallbackInstances: 3 } }, 'ratelimit (backend: url, failOpen, fallbackInstances, timeoutMs, keyPrefix, maxKeys)'],
      [{ ratelimit: { url: 'redis://127.0.0.1:6379' } }, 'ratelimit (backend: url, failOpen, fallbackInstances, timeoutMs, keyPrefix, maxKeys)'],
      [{ policy: { contextHeaders: ['x-tenant'] } }, 'policy (contextHeaders, cacheSize, assertion)'],
      [{ limits: { maxConnections: 10 } }, 'limits (listener limits)'],
    ];
    for (const [doc, key] of cases) {
      let b: Config;
      try { b = base(doc); } catch (err) { assert.fail(`${JSON.stringify(doc)} is not a valid change: ${(err as Error).message}`); }
      assert.deepEqual(restartOnlyChanges(a, b), [key], JSON.stringify(doc));
    }
  });

  it('names nothing for what a reload applies: routes, upstreams, rate limits, policy roles, body and header count limits, detection rules, audit redaction and sampling rates', () => {
    const a = base();
    const b = base({
      detect: {
        maxKeys: 5000,
        bruteForceAccount: { threshold: 3, windowMs: 120_000, actions: ['alert'], blockMs: 60_000 },
        denialBurst: { enabled: false },
        rateAnomaly: { factor: 4, bucketMs: 5000 },
      },
      audit: {
        redact: { keys: ['^x-acme-ref$'], patterns: ['acme-live-[0-9a-f]{24}'] },
        sampling: { routes: { inbox: 0.5 } },
        // Read by the `gatehouse audit` commands only, from the file, each time.
        trustedKeyFiles: ['/etc/gatehouse/old-audit.jwk'],
        export: { syslog: { url: 'udp://127.0.0.1:514' } },
      },
      upstreams: { u: { url: 'http://127.0.0.1:1' } },
      routes: [{ id: 'r', path: '/r', upstream: 'u', access: 'public' }],
      trustedProxies: ['10.0.0.0/8'],
      ratelimit: { edge: { rate: 5, periodMs: 1000, burst: 5 } },
      policy: { roles: { admin: ['editor'] } },
      limits: { maxBodyBytes: 1024, maxHeaderCount: 50, shutdownGraceMs: 1000 },
    });
    assert.deepEqual(restartOnlyChanges(a, b), []);
  });

  it('a reload that changes only detection rules and audit redaction and sampling logs no restart warning', async () => {
    const gw = await startGateway({}, { watch: false });
    try {
      await gw.writeConfig({
        detect: { enabled: false, bruteForceAddress: { threshold: 3 } },
        audit: { redact: { patterns: ['acme-live-[0-9a-f]{24}'] }, sampling: { routes: { inbox: 0.5 } } },
      });
      const result = await gw.gateway.reload('test');
      assert.equal(result.applied, true);
      const reloaded = gw.logs.lines.find((l) => l.msg === 'configuration reloaded');
      assert.deepEqual(reloaded?.restartOnly, []);
      assert.equal(gw.logs.lines.find((l) => l.msg === 'these settings change only on restart'), undefined);
    } finally {
      await gw.close();
    }
  });

  it('a reload that changes only restart-only audit keys (spool directory, signing key file) is applied for the rest and warns with exactly those keys', async () => {
    const gw = await startGateway({}, { watch: false });
    try {
      await gw.writeConfig({ audit: { spoolDir: join(gw.dataDir, 'other-spool'), signingKeyFile: join(gw.dataDir, 'other-key.jwk') } });
      const result = await gw.gateway.reload('test');
      assert.equal(result.applied, true);
      const warning = gw.logs.lines.find((l) => l.msg === 'these settings change only on restart');
      assert.ok(warning, 'a restart warning was logged');
      assert.deepEqual(warning.keys, ['audit (spoolDir, signingKeyFile)']);
    } finally {
      await gw.close();
    }
  });
});
