/**
 * The send saga: a failure injected at each step leaves no half-sent message anywhere
 * (messages, content, keys, schedules, notifications); a real dependency outage does the
 * same; a process killed mid-saga is recovered after restart.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { SAGA_STEPS } from '../../examples/secure-mail/messages/send-saga.ts';
import { startMailFabric, type MailFabric } from './secure-mail-support/fabric.ts';

process.env.SECURE_MAIL_FAULTS = '1';

const compose = { to: ['bob', 'carol'], subject: 'saga', body: 'all or nothing', lifetimeSeconds: 3600, readOnce: false };

function assertNothingLeft(f: MailFabric): void {
  assert.deepEqual(f.messages.repo.counts(), { messages: 0, contents: 0, openSagas: 0 });
  assert.equal(f.keys.keys.stats().live, 0, 'a live key is left');
  assert.equal(f.lifetime.repo.countScheduled(), 0, 'an expiry is still scheduled');
  assert.equal(f.notification.repo.countPending(), 0, 'a notification is still pending');
}

describe('secure mail: send saga', () => {
  let f: MailFabric;
  before(async () => { f = await startMailFabric(); });
  after(async () => { await f?.close(); });

  for (const step of SAGA_STEPS) {
    it(`a failure at ${step} is compensated: 502 MAIL_SEND_FAILED and no half-sent message`, async () => {
      await f.stopMessages();
      await f.startMessages({ faults: { failAt: step } });
      const r = await f.user('alice', 'POST', '/api/mail/messages', compose);
      assert.equal(r.status, 502, r.text);
      assert.equal((r.body as { error: { code: string } }).error.code, 'MAIL_SEND_FAILED');
      assertNothingLeft(f);
      const sagas = f.messages.repo.allSagas();
      assert.equal(sagas.at(-1)?.state, 'compensated');
      assert.equal(sagas.at(-1)?.input, '{}', 'the saga log keeps message data after compensation');
      // Nobody sees it.
      assert.deepEqual((await f.user('bob', 'GET', '/api/mail/mailboxes/bob/inbox')).body, { messages: [] });
    });
  }

  it('the notification service being down (a real outage) is compensated; the undone cancel is retried once it is back', async () => {
    await f.stopMessages();
    await f.startMessages();
    const port = f.notification.port;
    await f.notification.close();
    try {
      const r = await f.user('alice', 'POST', '/api/mail/messages', compose);
      assert.equal(r.status, 502);
      // Everything that could be undone is; only "cancel notification" waits for the service.
      assert.deepEqual(f.messages.repo.counts(), { messages: 0, contents: 0, openSagas: 1 });
      assert.equal(f.keys.keys.stats().live, 0);
      assert.equal(f.lifetime.repo.countScheduled(), 0);
    } finally {
      const { startNotificationService } = await import('../../examples/secure-mail/notification/notification-service.ts');
      const pino = (await import('pino')).default;
      f.notification = await startNotificationService({ ...f.configs.notification, port }, pino({ level: 'silent' }));
    }
    for (let i = 0; i < 100 && f.messages.repo.counts().openSagas > 0; i++) await sleep(50);
    assertNothingLeft(f);
    assert.equal(f.messages.repo.allSagas().at(-1)?.state, 'compensated');
  });

  for (const crashAfter of ['createMetadata', 'scheduleExpiry'] as const) {
    it(`a messages process killed (SIGKILL) after ${crashAfter} is recovered at restart: compensated, nothing left`, async () => {
      await f.stopMessages();
      const file = join(f.dir, `messages-crash-${crashAfter}.json`);
      await writeFile(file, JSON.stringify({ ...f.configs.messages, faults: { crashAfter } }));
      const child = spawn(process.execPath, ['examples/secure-mail/messages/main.ts', '--config', file], { env: { ...process.env, SECURE_MAIL_FAULTS: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
      const ready = await new Promise<{ port: number }>((resolve, reject) => {
        createInterface({ input: child.stdout! }).on('line', (line) => { try { const m = JSON.parse(line) as { ready?: boolean; port: number }; if (m.ready) resolve(m); } catch { /* log line */ } });
        child.once('exit', () => reject(new Error('messages process exited before it was ready')));
      });
      const upstream = f.upstream('messages');
      upstream.url = `https://127.0.0.1:${ready.port}`;
      await assert.rejects(f.user('alice', 'POST', '/api/mail/messages', compose));
      assert.equal(await exited, 'SIGKILL');
      await sleep(100);
      // Restart on the same files, without faults: recovery runs before serving.
      await f.startMessages();
      assertNothingLeft(f);
      const saga = f.messages.repo.allSagas().at(-1)!;
      assert.equal(saga.state, 'compensated');
      assert.equal(f.lifetime.repo.get(saga.messageId), undefined);
      await assert.rejects(f.keys.keys.unwrap(saga.messageId, new Uint8Array(60)), { code: 'MAIL_KEY_DESTROYED' });
    });
  }

  it('a message sent after all that works end to end', async () => {
    const r = await f.user('alice', 'POST', '/api/mail/messages', compose);
    assert.equal(r.status, 201, r.text);
    assert.equal(f.messages.repo.allSagas().at(-1)?.state, 'completed');
  });
});
