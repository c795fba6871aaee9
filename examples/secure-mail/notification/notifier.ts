/**
 * How a recipient is told about a new message. Email is the implementation here; an SMS or
 * push provider implements the same interface. A notification never contains the subject
 * or the content of the message — only who sent it and until when it can be read.
 */
import nodemailer, { type Transporter } from 'nodemailer';

export interface Notice {
  messageId: string;
  /** Recipient's user name and address. */
  to: { username: string; email: string };
  from: string;
  expiresAt: Date;
  appUrl: string;
}

export interface Notifier {
  readonly channel: string;
  /** @returns the provider's id for the delivery. Throws to ask for a retry. */
  send(notice: Notice): Promise<string>;
  close(): void;
}

export interface EmailNotifierOptions {
  host: string;
  port: number;
  from: string;
  /** Loopback demo servers speak plain SMTP; never set this for a remote server. */
  plainLoopbackOnly?: boolean;
  auth?: { user: string; pass: string } | undefined;
}

export class EmailNotifier implements Notifier {
  readonly channel = 'email';
  readonly #transport: Transporter;
  readonly #from: string;

  constructor(options: EmailNotifierOptions) {
    const loopback = options.host === '127.0.0.1' || options.host === '::1' || options.host === 'localhost';
    if (options.plainLoopbackOnly && !loopback) throw new Error('plain SMTP is only allowed to a loopback server');
    this.#transport = nodemailer.createTransport({
      host: options.host, port: options.port, secure: false,
      // Remote servers must offer STARTTLS (requireTLS); the loopback demo server has none.
      ...(options.plainLoopbackOnly ? { ignoreTLS: true } : { requireTLS: true }),
      ...(options.auth ? { auth: options.auth } : {}),
      connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000,
    });
    this.#from = options.from;
  }

  async send(n: Notice): Promise<string> {
    const info = await this.#transport.sendMail({
      from: this.#from,
      to: n.to.email,
      subject: `New secure message from ${n.from}`,
      text: `Hello ${n.to.username},\n\n${n.from} sent you a secure message. It can be read until ${n.expiresAt.toISOString()} and then destroys itself.\n\nOpen ${n.appUrl} and sign in to read it.\n`,
    });
    return String(info.messageId ?? '');
  }

  close(): void { this.#transport.close(); }
}
