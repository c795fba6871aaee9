/**
 * What is logged and kept about a failed notice. The mail library's errors name the recipient:
 * nodemailer's message quotes the server's answer (`452 <bob@example.org>: mailbox full`), and
 * the error carries `rejected`, `rejectedErrors`, `response` and a stack that repeats the
 * message. The log and the delivery row say which message's notice failed and why, never to
 * whom: so a failure is described by this redacted summary, never by the error itself.
 */

/** Anything shaped like an e-mail address, with or without angle brackets. */
const ADDRESS = /[^\s<>()[\]"',;:@]+@[^\s<>()[\]"',;:@]+/g;

export function redactAddresses(text: string): string {
  return text.replace(ADDRESS, '<address>');
}

export interface SendFailure {
  name: string;
  /** The library's code (e.g. nodemailer's `EENVELOPE`, `ECONNECTION`). */
  code?: string;
  /** The SMTP reply code, e.g. 452. */
  responseCode?: number;
  /** The SMTP command that failed, e.g. `RCPT TO`. */
  command?: string;
  /** The error message with every address replaced by `<address>`. */
  message: string;
}

export function describeSendFailure(err: unknown): SendFailure {
  const e = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
  return {
    name: typeof e.name === 'string' ? e.name : 'Error',
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(typeof e.responseCode === 'number' ? { responseCode: e.responseCode } : {}),
    ...(typeof e.command === 'string' ? { command: redactAddresses(e.command) } : {}),
    message: redactAddresses(err instanceof Error ? err.message : String(err)).slice(0, 500),
  };
}
