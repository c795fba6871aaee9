/**
 * The sample application's own error codes. Secure mail is an application *behind*
 * Gatehouse, not part of it, so it keeps its own small closed registry instead of adding
 * to Gatehouse's. The wire shape is the same as Gatehouse's (`{ error: { code, message } }`),
 * so a client handles both alike.
 */
export const MAIL_ERRORS = {
  MAIL_INPUT_INVALID: { status: 400, message: 'The request is not valid' },
  MAIL_BODY_TOO_LARGE: { status: 413, message: 'Request body too large' },
  MAIL_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send application/json' },
  MAIL_NOT_FOUND: { status: 404, message: 'Not found' },
  MAIL_METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed' },
  MAIL_FORBIDDEN: { status: 403, message: 'Forbidden' },
  MAIL_RECIPIENT_UNKNOWN: { status: 400, message: 'Unknown recipient' },
  MAIL_SENDER_UNKNOWN: { status: 403, message: 'Your account has no mailbox' },
  MAIL_QUOTA_EXCEEDED: { status: 429, message: 'Too many of your messages are still live; wait until some expire or are read' },
  MAIL_GONE: { status: 410, message: 'This message no longer exists' },
  MAIL_KEY_DESTROYED: { status: 410, message: 'The key of this message was destroyed' },
  MAIL_KEY_UNKNOWN: { status: 404, message: 'Unknown key' },
  MAIL_DECRYPT_FAILED: { status: 500, message: 'Message could not be decrypted' },
  MAIL_DEPENDENCY_FAILED: { status: 502, message: 'A service this request needs failed' },
  MAIL_SEND_FAILED: { status: 502, message: 'The message could not be sent; nothing was kept' },
  MAIL_INTERNAL: { status: 500, message: 'Internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type MailErrorCode = keyof typeof MAIL_ERRORS;

/** An error with a stable code; `detail` and `cause` go to the log only, never on the wire. */
export class MailError extends Error {
  readonly code: MailErrorCode;
  readonly status: number;
  readonly publicMessage: string;
  readonly detail: string | undefined;

  constructor(code: MailErrorCode, options: { detail?: string; cause?: unknown } = {}) {
    super(options.detail ? `${code}: ${options.detail}` : code, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MailError';
    this.code = code;
    this.status = MAIL_ERRORS[code].status;
    this.publicMessage = MAIL_ERRORS[code].message;
    this.detail = options.detail;
  }
}
