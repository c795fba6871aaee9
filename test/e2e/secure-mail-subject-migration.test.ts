/**
 * Secure mail: a data directory from before subjects were sealed keeps every subject in plain
 * text in metadata.db. At its next start the messages service seals each one under its
 * message's key (or deletes it when the key is already destroyed) and leaves no plain text in
 * any file; the messages stay readable, subject and all.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { filesHolding as filesHoldingIn } from './secure-mail-support/files-holding.ts';
import { startMailFabric, type MailFabric } from './secure-mail-support/fabric.ts';

async function until(check: () => boolean, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (check()) return true;
  return check();
}

describe('secure mail: plain-text subjects from an older data directory', () => {
  let f: MailFabric;
  before(async () => { f = await startMailFabric(); });
  after(async () => { await f?.close(); });

  const filesHolding = (marker: string): Promise<string[]> => filesHoldingIn(join(f.dir, 'data'), marker);
  const send = async (subject: string) => {
    const r = await f.user('alice', 'POST', '/api/mail/messages', { to: ['bob'], subject, body: `text under ${subject}`, lifetimeSeconds: 3600, readOnce: false });
    assert.equal(r.status, 201, r.text);
    return (r.body as { id: string }).id;
  };

  it('seals them at start, deletes the one whose key is destroyed, and leaves the plain text in no file', async () => {
    const live = `old-live-subject-${'l'.repeat(16)}`;
    const shredded = `old-shredded-subject-${'d'.repeat(16)}`;
    const liveId = await send(live);
    const shreddedId = await send(shredded);
    await f.stopMessages();
    // Its key destroyed, its rows not yet deleted (the lifetime service had not come round to it).
    await f.keys.keys.destroy(shreddedId);

    // Back to the old layout: subjects in plain text in metadata.db, no sealed subject in content.db.
    const meta = new DatabaseSync(f.messages.files.metadata);
    meta.exec('ALTER TABLE messages ADD COLUMN subject TEXT NOT NULL DEFAULT \'\'');
    meta.prepare('UPDATE messages SET subject = ? WHERE id = ?').run(live, liveId);
    meta.prepare('UPDATE messages SET subject = ? WHERE id = ?').run(shredded, shreddedId);
    meta.close();
    const content = new DatabaseSync(f.messages.files.content);
    for (const c of ['subject_iv', 'subject_ciphertext', 'subject_tag']) content.exec(`ALTER TABLE contents DROP COLUMN ${c}`);
    content.close();
    assert.ok((await filesHolding(live)).some((n) => n.endsWith('metadata.db')), 'the old layout holds the subject in plain text (the test could fail)');

    await f.startMessages();
    assert.ok(await until(() => f.messages.legacySubjects.count() === 0), 'plain-text subjects are still held');

    const read = await f.user('bob', 'POST', `/api/mail/messages/${liveId}/read`);
    assert.equal(read.status, 200, read.text);
    assert.equal((read.body as { subject: string }).subject, live);
    assert.equal((read.body as { body: string }).body, `text under ${live}`);
    assert.equal(f.messages.repo.getContent(liveId)?.subject !== undefined, true, 'the subject is sealed in content.db');
    assert.equal(f.messages.repo.getContent(shreddedId)?.subject, undefined, 'a subject was sealed for a message whose key is gone');

    assert.deepEqual(await filesHolding(live), [], 'the sealed subject is still in plain text in a file');
    assert.deepEqual(await filesHolding(shredded), [], 'the subject of the shredded message is still in a file');
    const after = new DatabaseSync(f.messages.files.metadata, { readOnly: true });
    const columns = (after.prepare('SELECT name FROM pragma_table_info(?)').all('messages') as { name: string }[]).map((c) => c.name);
    const holding = after.prepare('SELECT name FROM sqlite_master WHERE name = ?').get('legacy_subjects');
    after.close();
    assert.ok(!columns.includes('subject'), 'messages still has a subject column');
    assert.equal(holding, undefined, 'the holding table is left');
    // New mail is sealed as usual next to the migrated.
    const fresh = await send('after the migration');
    assert.equal(((await f.user('bob', 'POST', `/api/mail/messages/${fresh}/read`)).body as { subject: string }).subject, 'after the migration');
  });
});
