/**
 * Small HTTP helpers shared by the services: bounded JSON bodies parsed with zod, JSON
 * answers, and one error writer that never puts internal detail on the wire.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { isGatehouseError } from '../../../src/core/errors.ts';
import { MailError } from './errors.ts';

/** Reads the whole body, refusing more than `maxBytes` without buffering it. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw new MailError('MAIL_BODY_TOO_LARGE', { detail: `content-length ${declared} > ${maxBytes}` });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new MailError('MAIL_BODY_TOO_LARGE', { detail: `body over ${maxBytes} bytes` });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Parses a JSON body against `schema`; anything else is MAIL_INPUT_INVALID (never a cast). */
export async function readJson<S extends z.ZodType>(req: IncomingMessage, schema: S, maxBytes = 64 * 1024): Promise<z.infer<S>> {
  const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new MailError('MAIL_UNSUPPORTED_MEDIA_TYPE', { detail: `content-type ${type || '(none)'}` });
  const raw = await readBody(req, maxBytes);
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new MailError('MAIL_INPUT_INVALID', { detail: 'body is not JSON', cause: err });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new MailError('MAIL_INPUT_INVALID', { detail: parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ') });
  }
  return parsed.data;
}

/**
 * Answers carry text other people chose (a sender's subject) on the mail's own origin: never
 * sniffed as a page, and if opened as one anyway, no script, style or framing (as Gatehouse's
 * own error answers).
 */
const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
} as const;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Status, code and public message for anything thrown. */
export function publicError(err: unknown): { status: number; code: string; message: string } {
  if (err instanceof MailError) return { status: err.status, code: err.code, message: err.publicMessage };
  if (isGatehouseError(err)) return { status: err.status, code: err.code, message: err.publicMessage };
  return { status: 500, code: 'MAIL_INTERNAL', message: 'Internal error' };
}

/** Writes `{ error: { code, message } }`; the cause goes to the log. */
export function sendError(res: ServerResponse, err: unknown, logger: Logger): void {
  const e = publicError(err);
  if (e.status >= 500) logger.error({ err, code: e.code }, 'request failed');
  else logger.info({ code: e.code, detail: (err as { detail?: string }).detail }, 'request refused');
  if (res.headersSent) { res.destroy(); return; }
  sendJson(res, e.status, { error: { code: e.code, message: e.message } });
}
