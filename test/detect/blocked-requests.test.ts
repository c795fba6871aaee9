/**
 * Requests refused by a block are consequences of that block, not new denials: through a
 * real, fully composed Gatehouse (IdP, authentication, detection, block stages), a client
 * whose identity is blocked and keeps retrying must get through once the block expires.
 * Before, each refused request (403 ERR_SHIELD_BLOCKED, with the subject) counted towards
 * denialBurst, whose block then renewed itself for as long as the client retried: a
 * temporary block never ended, and at the default actions it raised an alert every window.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addBlock } from '../../src/detect/blocks.ts';
import type { DetectExtension } from '../../src/detect/extension.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import { createDetectRepo } from '../../src/store/repos/detect-repo.ts';
import type { Store } from '../../src/store/types.ts';
import { serviceToken } from '../support/service-token.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('requests refused by a block', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;
  let store: Store;
  let token: string;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({
      ratelimit: { edge: { enabled: false } },
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'authenticated', authentication: { methods: ['jwt'] } }],
      // A burst of 5 denials in 1 s blocks the identity for 2 s: longer than the window, as
      // for the defaults of every blocking rule.
      detect: { denialBurst: { threshold: 5, windowMs: 1000, actions: ['alert', 'block'], blockMs: 2000 } },
    }, { compose: true });
    store = await openStoreFromConfig(gw.gateway.config);
    token = await serviceToken(gw, 'svc-poller');
  });

  after(async () => {
    await store?.close();
    await gw?.close();
    await upstream?.close();
  });

  it('a blocked identity that keeps retrying is let through when its block expires, and its refused requests raise no denial-burst alert', async () => {
    const call = () => gw.fetch('/app/items', { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await call()).status, 200, 'allowed before the block');

    // An operator blocks the identity for 1.5 s (as a refresh-token replay blocks one by default).
    const block = await addBlock(store, undefined, { kind: 'subject', value: 'svc-poller', reason: 'test', durationMs: 1500, createdBy: 'admin:test' });
    const detect = gw.gateway.extensions.find((e) => e.name === 'detect') as DetectExtension;
    detect.blockCheck.add(block);
    assert.equal((await call()).status, 403, 'refused while blocked');

    // The client keeps polling at about 20 requests a second, well past the block's end.
    const statuses: { at: number; status: number }[] = [];
    const until = block.expiresAt + 2500;
    while (Date.now() < until) {
      statuses.push({ at: Date.now(), status: (await call()).status });
      await settle(50);
    }
    const refused = statuses.filter((s) => s.status === 403).length;
    assert.ok(refused >= 3, `the client was refused repeatedly while blocked (${refused} times)`);
    const after = statuses.filter((s) => s.at > block.expiresAt + 500);
    assert.ok(after.length > 0 && after.every((s) => s.status === 200),
      `every request from 0.5 s after the block's end gets through: ${JSON.stringify(after.map((s) => s.status))}`);
    const alerts = await createDetectRepo(store.db).listAlerts({ limit: 10 });
    assert.deepEqual(alerts.map((a) => a.rule), [], 'requests refused by the block are not denials of their own');
  });
});
