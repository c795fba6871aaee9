/**
 * The spool directory is the writer's own (checked at open), but what lies in it is read back at
 * start, replayed into the chain and signed, and new segments are created in it by name. So a
 * segment the writer did not make must neither be replayed nor written through: a symbolic link
 * (to the signing key, the store, any file this user can write), something that is not a regular
 * file (a FIFO would hold the start forever), or a file of another user (a group member of a
 * group-writable spool). Real writer on SQLite.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AuditWriter } from '../../src/audit/writer.ts';
import { canonicalDraftJson } from '../../src/audit/hash.ts';
import { queryAudit } from '../../src/audit/query.ts';
import type { Store } from '../../src/store/index.ts';
import { captureLogger } from '../support/gateway.ts';
import { sqliteBackend, type TestDatabase } from './support/backends.ts';
import { accessDraft } from './support/events.ts';

const name = (id: number) => `segment-${String(id).padStart(16, '0')}.jsonl`;

describe('audit spool: planted segment files', () => {
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

  async function spoolDir(): Promise<string> {
    const dir = join(db.dir, `spool-${++dirs}`);
    await mkdir(dir, { mode: 0o700 });
    return dir;
  }

  const stored = async (requestId: string) => {
    const out = [];
    for await (const r of queryAudit(store, { requestId })) out.push(r);
    return out;
  };
  const line = (requestId: string) => `${canonicalDraftJson(accessDraft(1, { requestId, subject: 'mallory' }))!}\n`;

  it('does not replay a segment that is a symbolic link (its target holds a forged draft), and leaves the target alone', async () => {
    const dir = await spoolDir();
    const target = join(db.dir, `elsewhere-${dirs}.jsonl`);
    const forged = line('forged-symlink');
    await writeFile(target, forged, { mode: 0o600 });
    await symlink(target, join(dir, name(1)));
    const { logger, capture } = captureLogger();
    const writer = AuditWriter.open({ store, chain: 'planted-link', instance: 'gw-1', spoolDir: dir, logger });
    await writer.flush();
    await writer.close();
    assert.deepEqual(await stored('forged-symlink'), []);
    assert.equal(await readFile(target, 'utf8'), forged);
    assert.ok(capture.lines.some((l) => l.level === 50 && /not replayed/.test(String(l.msg))), capture.text());
  });

  it('does not append through a symbolic link planted at the name of a segment it creates later', async () => {
    const dir = await spoolDir();
    const victim = join(db.dir, `victim-${dirs}.jwk`);
    await writeFile(victim, '{"kty":"OKP"}', { mode: 0o600 });
    const writer = AuditWriter.open({ store, chain: 'planted-next', instance: 'gw-1', spoolDir: dir, maxSegmentBytes: 300 });
    // The writer's first segment is 1; a rotation (every 300 bytes here) takes 2, 3, …
    for (let id = 2; id <= 8; id++) await symlink(victim, join(dir, name(id)));
    for (let i = 0; i < 10; i++) writer.append(accessDraft(i, { requestId: `next-${dirs}-${i}` }));
    await writer.flush();
    await writer.close();
    assert.equal(await readFile(victim, 'utf8'), '{"kty":"OKP"}');
    assert.equal((await stored(`next-${dirs}-9`)).length, 1);
  });

  it('does not replay a FIFO planted as a segment (reading it would hold the start forever)', async () => {
    const dir = await spoolDir();
    execFileSync('mkfifo', [join(dir, name(1))]);
    const { logger, capture } = captureLogger();
    const writer = AuditWriter.open({ store, chain: 'planted-fifo', instance: 'gw-1', spoolDir: dir, logger });
    await writer.close();
    assert.ok(capture.lines.some((l) => l.level === 50 && /not replayed/.test(String(l.msg))), capture.text());
  });

  it('does not replay a segment owned by another user (planted by a member of a group-writable spool\'s group)', { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, async () => {
    const dir = await spoolDir();
    await chmod(dir, 0o770);
    await writeFile(join(dir, name(1)), line('forged-group'), { mode: 0o600 });
    await chown(join(dir, name(1)), 4242, 4242);
    const { logger, capture } = captureLogger();
    const writer = AuditWriter.open({ store, chain: 'planted-group', instance: 'gw-1', spoolDir: dir, logger });
    await writer.flush();
    await writer.close();
    assert.deepEqual(await stored('forged-group'), []);
    assert.ok(capture.lines.some((l) => l.level === 50 && /not replayed/.test(String(l.msg))), capture.text());
    // Left in place for whoever investigates.
    assert.equal((await stat(join(dir, name(1)))).uid, 4242);
    assert.ok((await readdir(dir)).includes(name(1)));
  });

  it('skips a planted line that carries the event id of a stored record with other content: the stored record stays as it was, and the chain verifies', async () => {
    const { verifyAudit } = await import('../../src/audit/verify.ts');
    const { generateSigningJwk, signingKeyFromJwk } = await import('../../src/audit/signing-key.ts');
    const key = await signingKeyFromJwk(await generateSigningJwk());
    const chain = 'planted-same-id';
    const first = AuditWriter.open({ store, chain, instance: 'gw-1', spoolDir: await spoolDir(), signingKey: key });
    first.append(accessDraft(1, { requestId: 'original', subject: 'alice' }));
    await first.close();
    const [original] = await stored('original');
    const forged = { ...JSON.parse(line('forged-same-id')) as Record<string, unknown>, eventId: original!.eventId, actor: 'mallory' };
    const dir = await spoolDir();
    await writeFile(join(dir, name(1)), `${JSON.stringify(forged)}\n`, { mode: 0o600 });
    const second = AuditWriter.open({ store, chain, instance: 'gw-1', spoolDir: dir, signingKey: key });
    second.append(accessDraft(2, { requestId: 'after' }));
    await second.flush();
    await second.close();
    assert.deepEqual(await stored('forged-same-id'), []);
    assert.deepEqual(await stored('original'), [original]);
    assert.equal((await stored('after')).length, 1);
    const report = await verifyAudit(store, { trustedKeys: [key.publicJwk], chain });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.records, 2);
  });

  it('still replays its own segment (control)', async () => {
    const dir = await spoolDir();
    await writeFile(join(dir, name(1)), line('own-segment'), { mode: 0o600 });
    const writer = AuditWriter.open({ store, chain: 'own-segment', instance: 'gw-1', spoolDir: dir });
    await writer.flush();
    await writer.close();
    assert.equal((await stored('own-segment')).length, 1);
  });
});
