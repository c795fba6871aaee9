/**
 * What the writer replays from the spool at start goes into the tamper-evident chain and is
 * signed by the next checkpoint, so the spool must hold only what the writer wrote: a spool
 * directory other users can write to is refused, and lines that are not whole drafts (a write
 * torn by a crash, damage on disk, a draft with a field of the wrong type) are skipped with a
 * warning instead of silently or by blocking the chain. Real writer on SQLite.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AuditWriter } from '../../src/audit/writer.ts';
import { canonicalDraftJson } from '../../src/audit/hash.ts';
import { queryAudit } from '../../src/audit/query.ts';
import type { Store } from '../../src/store/index.ts';
import { captureLogger } from '../support/gateway.ts';
import { sqliteBackend, type TestDatabase } from './support/backends.ts';
import { accessDraft } from './support/events.ts';

const segment = 'segment-0000000000000001.jsonl';

describe('audit spool replay', () => {
  let db: TestDatabase;
  let store: Store;
  let dirs = 0;

  before(async () => {
    db = await sqliteBackend.create();
    store = await db.open();
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  /** A spool directory holding one segment with these lines. */
  async function spoolWith(lines: string[], mode = 0o700): Promise<string> {
    const dir = join(db.dir, `spool-${++dirs}`);
    await mkdir(dir, { mode: 0o700 });
    await writeFile(join(dir, segment), lines.join('\n'), { mode: 0o600 });
    await chmod(dir, mode);
    return dir;
  }

  const stored = async (requestId: string) => {
    const out = [];
    for await (const r of queryAudit(store, { requestId })) out.push(r);
    return out;
  };

  it('a planted draft in a world-writable spool directory is refused with ERR_AUDIT_SPOOL_INSECURE before anything is replayed into the chain', async () => {
    const dir = await spoolWith([canonicalDraftJson(accessDraft(1, { requestId: 'forged-world', subject: 'nobody' }))!], 0o777);
    assert.throws(() => AuditWriter.open({ store, chain: 'spool-world', instance: 'gw-1', spoolDir: dir }), { code: 'ERR_AUDIT_SPOOL_INSECURE', detail: /world-writable/ });
    assert.deepEqual(await stored('forged-world'), []);
  });

  it('a spool directory owned by another user is refused with ERR_AUDIT_SPOOL_INSECURE', { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, async () => {
    const dir = await spoolWith([canonicalDraftJson(accessDraft(1, { requestId: 'forged-owner' }))!]);
    await chown(dir, 4242, 4242);
    assert.throws(() => AuditWriter.open({ store, chain: 'spool-owner', instance: 'gw-1', spoolDir: dir }), { code: 'ERR_AUDIT_SPOOL_INSECURE', detail: /owned by user 4242/ });
    assert.deepEqual(await stored('forged-owner'), []);
  });

  it('a planted draft in a group-writable spool directory is refused with ERR_AUDIT_SPOOL_INSECURE in production, before anything is replayed', async () => {
    const dir = await spoolWith([canonicalDraftJson(accessDraft(1, { requestId: 'forged-group' }))!], 0o770);
    assert.throws(() => AuditWriter.open({ store, chain: 'spool-group', instance: 'gw-1', spoolDir: dir, mode: 'production' }), { code: 'ERR_AUDIT_SPOOL_INSECURE', detail: /writable by its group \(mode 770\)/ });
    assert.deepEqual(await stored('forged-group'), []);
  });

  it('a group-writable spool directory (2770, as a Kubernetes fsGroup volume has it) is warned about at start in development, naming the directory and the production refusal', async () => {
    const dir = await spoolWith([], 0o2770);
    const { logger, capture } = captureLogger();
    const writer = AuditWriter.open({ store, chain: 'spool-group-dev', instance: 'gw-1', spoolDir: dir, mode: 'development', logger });
    await writer.close();
    const warning = capture.lines.find((l) => /writable by its group/.test(String(l.msg)));
    assert.ok(warning, JSON.stringify(capture.lines));
    assert.match(String(warning.msg), /mode 2770.*refused when NODE_ENV=production/);
    assert.equal(warning.spoolDir, dir);
  });

  it('without a mode, NODE_ENV=production refuses a group-writable spool directory', async () => {
    const dir = await spoolWith([], 0o770);
    const before = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      assert.throws(() => AuditWriter.open({ store, chain: 'spool-group-env', instance: 'gw-1', spoolDir: dir }), { code: 'ERR_AUDIT_SPOOL_INSECURE' });
    } finally {
      if (before === undefined) delete process.env.NODE_ENV; else process.env.NODE_ENV = before;
    }
  });

  it('replays the whole drafts around a damaged middle line, a draft with a text time and a torn last line, and warns how many lines it skipped', async () => {
    const good = (id: string) => canonicalDraftJson(accessDraft(1, { requestId: id }))!;
    const textTime = JSON.stringify({ ...JSON.parse(good('text-time')) as object, time: 'soon' });
    const torn = good('torn').slice(0, 40);
    const dir = await spoolWith([good('before'), '\0\0\0\0{"eventId":"x"', textTime, good('after'), torn]);
    const { logger, capture } = captureLogger();
    const writer = AuditWriter.open({ store, chain: 'spool-damaged', instance: 'gw-1', spoolDir: dir, logger });
    await writer.flush();
    await writer.close();
    assert.deepEqual([(await stored('before')).length, (await stored('after')).length, (await stored('text-time')).length], [1, 1, 0]);
    assert.equal(writer.stats().failedBatches, 0);
    assert.ok(capture.lines.some((l) => l.level === 40 && l.lines === 3), capture.text());
  });
});
