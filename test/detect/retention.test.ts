/**
 * Retention of detection state (detect.retentionDays): old alerts and blocks that ended long
 * ago are deleted so the tables do not grow for ever; an active block never is, however old,
 * and neither is a block lifted recently. On SQLite and PostgreSQL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDetectRepo } from '../../src/store/repos/detect-repo.ts';
import { startDetectRetention } from '../../src/detect/retention.ts';
import type { Alert, Block } from '../../src/detect/types.ts';
import { backends } from '../audit/support/backends.ts';
import { useAuditBackend } from '../audit/support/use-audit-backend.ts';

const DAY = 86_400_000;
const NOW = 1_800_000_000_000;

const alert = (id: string, createdAt: number): Alert => ({
  id, rule: 'denial_burst', severity: 'medium', keyKind: 'subject', key: 'mallory', count: 30, windowStart: createdAt - 1000,
  actions: ['alert'], details: {}, instance: 'gw-1', createdAt,
});

const block = (id: string, createdAt: number, expiresAt: number, liftedAt: number | null = null): Block => ({
  id, kind: 'address', value: '192.0.2.1', reason: 'test', alertId: null, createdBy: 'admin', createdAt, expiresAt, liftedAt, liftedBy: liftedAt === null ? null : 'admin',
});

for (const backend of await backends()) {
  describe(`detection retention (${backend.name})`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend);

    it('deletes alerts older than the cut-off and blocks that ended before it; keeps active and recently ended blocks', async () => {
      const repo = createDetectRepo(env.store.db);
      await repo.insertAlert(alert('old', NOW - 100 * DAY));
      await repo.insertAlert(alert('recent', NOW - 10 * DAY));
      await repo.insertBlock(block('expired-long-ago', NOW - 100 * DAY, NOW - 99 * DAY));
      await repo.insertBlock(block('lifted-long-ago', NOW - 100 * DAY, NOW + 365 * DAY, NOW - 95 * DAY));
      await repo.insertBlock(block('active-and-old', NOW - 200 * DAY, NOW + 365 * DAY));
      await repo.insertBlock(block('lifted-recently', NOW - 100 * DAY, NOW + DAY, NOW - DAY));
      await repo.insertBlock(block('expired-recently', NOW - 100 * DAY, NOW - 2 * DAY));

      assert.deepEqual(await repo.deleteEndedBefore(NOW - 90 * DAY), { alerts: 1, blocks: 2 });
      assert.deepEqual((await repo.listAlerts({ limit: 10 })).map((a) => a.id), ['recent']);
      const left = (await repo.listBlocks({ includeInactive: true, now: NOW, limit: 10 })).map((b) => b.id).sort();
      assert.deepEqual(left, ['active-and-old', 'expired-recently', 'lifted-recently']);
      assert.deepEqual((await repo.activeBlocks(NOW)).map((b) => b.id), ['active-and-old']);
    });

    it('the retention task deletes on its interval and stops cleanly', async () => {
      const repo = createDetectRepo(env.store.db);
      await repo.insertAlert(alert('stale', NOW - 40 * DAY));
      const task = startDetectRetention(env.store, { maxAgeMs: 30 * DAY, intervalMs: 20, now: () => NOW });
      const until = Date.now() + 3000;
      while ((await repo.listAlerts({ limit: 10 })).some((a) => a.id === 'stale') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      await task.stop();
      assert.deepEqual((await repo.listAlerts({ limit: 10 })).map((a) => a.id), ['recent']);
    });
  });
}
