/**
 * The demo's SMTP server (smtp-server from npm) on loopback: accepts mail for anyone,
 * keeps it in memory and appends it to a JSON-lines file, so the demo can show what was
 * sent and tests can check it. Not a mail relay; never listen on a public address.
 */
import { appendFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail { from: string; to: string[]; raw: string; at: string }

export interface DemoSmtpServer { port: number; received: ReceivedMail[]; close(): Promise<void> }

export async function startDemoSmtpServer(options: { port?: number; file?: string; onMail?: (m: ReceivedMail) => void } = {}): Promise<DemoSmtpServer> {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    size: 256 * 1024,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const mail: ReceivedMail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          at: new Date().toISOString(),
        };
        received.push(mail);
        if (options.file) appendFileSync(options.file, `${JSON.stringify(mail)}\n`, { mode: 0o600 });
        options.onMail?.(mail);
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port;
  return { port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
