/**
 * `gatehouse alerts list --since`: a time that is not one is refused with the detection area's
 * code, ERR_DETECT_QUERY_INVALID (it said ERR_AUDIT_QUERY_INVALID, sending the operator to the
 * audit log's documentation). Real SQLite store.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isGatehouseError } from '../../src/core/errors.ts';
import { alertsListCommand } from '../../src/detect/commands/alerts.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';

describe('alerts list with an invalid --since', () => {
  let dir: string;
  let store: Store;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-detect-query-'));
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    await store.migrate();
  });

  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const since of ['yesterday', '2026-02-30T00:00:00Z', '2026-01-01T00:00:00']) {
    it(`--since ${since} is refused with ERR_DETECT_QUERY_INVALID, naming the option`, async () => {
      await assert.rejects(alertsListCommand(store, { since }), (err: unknown) => {
        assert.ok(isGatehouseError(err));
        assert.equal(err.code, 'ERR_DETECT_QUERY_INVALID');
        assert.equal(err.status, 400);
        assert.match(err.detail ?? '', /^--since: /);
        return true;
      });
    });
  }

  it('a valid --since still lists (nothing yet)', async () => {
    assert.deepEqual(await alertsListCommand(store, { since: '2h' }), []);
  });
});
