/**
 * Grouped spool writes: the access records of one event-loop turn go to the spool in one
 * write(2), and a response about to finish is held (its socket corked) until its record's line
 * is in the OS — so that a killed process never leaves a client with an answer whose record
 * is lost (test/audit/kill.test.ts drives the same through a real gateway and SIGKILL).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditWriter } from '../../src/audit/writer.ts';
import { accessRecord } from '../../src/audit/access-event.ts';
import { createRedactor } from '../../src/audit/redact.ts';
import { queryAudit } from '../../src/audit/query.ts';
import { openStore } from '../../src/store/index.ts';
import type { Store } from '../../src/store/types.ts';
import type { RequestContext } from '../../src/gateway/context.ts';

const redactor = createRedactor();
const ctx = (id: string) => ({ requestId: id, path: '/inbox', method: 'GET', clientAddress: '203.0.113.7', stage: 'forward', bytesIn: 0, bytesOut: 2 }) as unknown as RequestContext;
const turn = () => new Promise((r) => setImmediate(r));

function spoolText(dir: string): string {
  return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => readFileSync(join(dir, f), 'utf8')).join('');
}

describe('audit spool: grouped writes of access records', () => {
  let dir: string;
  let store: Store;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-grouped-'));
    await mkdir(join(dir, 'spool'), { mode: 0o700 });
    store = await openStore(`sqlite:${join(dir, 'audit.db')}`);
    await store.migrate();
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('holds each finishing response until its record is in the spool file, and writes the turn\'s records together', async () => {
    const spoolDir = join(dir, 'spool');
    const writer = AuditWriter.open({ store, chain: 'grouped', instance: 't', spoolDir, batchMaxDelayMs: 5 });
    try {
      const ids = ['req-g-1', 'req-g-2', 'req-g-3', 'req-g-4', 'req-g-5'];
      const events: string[] = [];
      const releasedWithLine: boolean[] = [];
      for (const id of ids) {
        writer.appendAccess(accessRecord(ctx(id), 200, 1, 't', redactor), {
          cork: () => { events.push(`cork ${id}`); },
          uncork: () => { events.push(`uncork ${id}`); releasedWithLine.push(spoolText(spoolDir).includes(`"requestId":"${id}"`)); },
        });
      }
      assert.deepEqual(events, ids.map((id) => `cork ${id}`), 'every response held at once, none released in the same turn');
      assert.equal(ids.filter((id) => spoolText(spoolDir).includes(id)).length, 0, 'nothing written yet: the lines wait for the turn\'s one write');
      await turn();
      assert.deepEqual(events.slice(ids.length), ids.map((id) => `uncork ${id}`), 'each held response released once, after the write');
      assert.deepEqual(releasedWithLine, ids.map(() => true), 'every record was in the spool file when its response was released');
      await writer.flush();
      const stored: string[] = [];
      for await (const r of queryAudit(store, { event: 'gateway.request' })) if (r.requestId?.startsWith('req-g-')) stored.push(r.requestId);
      assert.deepEqual(stored.sort(), ids, 'and committed to the store as before');
    } finally {
      await writer.close();
    }
  });

  it('a record appended without a response to hold (client gone, internal handler) is written at once, as before', async () => {
    const spoolDir = join(dir, 'spool');
    const writer = AuditWriter.open({ store, chain: 'grouped-2', instance: 't', spoolDir });
    try {
      writer.appendAccess(accessRecord(ctx('req-now-1'), 499, 1, 't', redactor));
      assert.ok(spoolText(spoolDir).includes('"requestId":"req-now-1"'), 'in the spool file before appendAccess returned');
    } finally {
      await writer.close();
    }
  });
});
