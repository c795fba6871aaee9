/**
 * A notice the mail server refuses: nodemailer's error quotes the server's answer, which names
 * the recipient's address. Neither the service's log nor the delivery row kept for the retry
 * may hold it; the failure is still told (code, SMTP reply code, redacted message).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { DatabaseSync } from 'node:sqlite';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import { AuditLog } from '../shared/audit.ts';
import { Directory } from '../messages/directory.ts';
import { DeliveryRepo } from './delivery-repo.ts';
import { Dispatcher } from './dispatcher.ts';
import { EmailNotifier } from './notifier.ts';
import { describeSendFailure, redactAddresses } from './send-failure.ts';

const BOB = { username: 'bob', subject: 'usr_bob', email: 'bob.private@mail.test' };
const ALICE = { username: 'alice', subject: 'usr_alice', email: 'alice@mail.test' };

describe('secure mail notification: a refused notice is logged without the recipient\'s address', () => {
  let smtp: SMTPServer;
  let port: number;
  before(async () => {
    smtp = new SMTPServer({
      authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false,
      // A real server's refusal names the address, and nodemailer's error quotes it.
      onRcptTo(address, _session, callback) {
        callback(Object.assign(new Error(`<${address.address}>: Recipient address rejected: mailbox full`), { responseCode: 452 }));
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
    port = ((smtp as unknown as { server: { address(): AddressInfo } }).server.address()).port;
  });
  after(async () => { await new Promise<void>((resolve) => smtp.close(() => resolve())); });

  it('the warning and the delivery row say why the notice failed, not to whom', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } }));
    const db = new DatabaseSync(':memory:');
    const repo = new DeliveryRepo(db);
    const notifier = new EmailNotifier({ host: '127.0.0.1', port, from: 'secure-mail@mail.test', plainLoopbackOnly: true });
    const dispatcher = new Dispatcher({
      repo, notifier, isNotifiable: async () => true, directory: new Directory([ALICE, BOB]),
      audit: new AuditLog({ service: 'notification', db, logger }), logger, appUrl: 'https://localhost:8443/', tickMs: 60_000, maxAttempts: 3, baseBackoffMs: 10,
    });
    const messageId = `msg_${'c'.repeat(32)}`;
    repo.enqueue({ messageId, sender: ALICE.subject, recipients: [BOB.subject], expiresAt: Date.now() + 3_600_000, channel: 'email' }, Date.now());
    await dispatcher.tick();
    await dispatcher.stop();
    notifier.close();

    const warning = lines.map((l) => JSON.parse(l) as { msg: string; failure?: { responseCode?: number; message: string } }).find((l) => l.msg === 'notification failed');
    assert.ok(warning, 'the failure is logged');
    assert.equal(warning.failure?.responseCode, 452);
    assert.match(warning.failure?.message ?? '', /<address>.*mailbox full/);
    const log = lines.join('');
    assert.ok(!log.includes(BOB.email), `the log names the recipient: ${log}`);
    const [row] = repo.forMessage(messageId);
    assert.ok(row?.lastError, 'the retry keeps why it failed');
    assert.ok(!row.lastError.includes(BOB.email), `the delivery row names the recipient: ${row.lastError}`);
    db.close();
  });

  it('redacts addresses in any form the library quotes them', () => {
    assert.equal(redactAddresses('550 5.1.1 <bob.private@mail.test>: no such user (bob+x@sub.mail.test)'), '550 5.1.1 <<address>>: no such user (<address>)');
    const err = Object.assign(new Error("Can't send mail - all recipients were rejected: 452 <bob.private@mail.test>: full"), { code: 'EENVELOPE', responseCode: 452, command: 'RCPT TO', rejected: ['bob.private@mail.test'], response: '452 <bob.private@mail.test>: full' });
    const d = describeSendFailure(err);
    assert.deepEqual(Object.keys(d).sort(), ['code', 'command', 'message', 'name', 'responseCode']);
    assert.ok(!JSON.stringify(d).includes('bob.private@mail.test'));
  });
});
