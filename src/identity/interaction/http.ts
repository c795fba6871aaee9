/** Small HTTP helpers for the sign-in pages: security headers, bounded form parsing. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatehouseError } from '../../core/errors.ts';

const MAX_FORM_BYTES = 16 * 1024;

/** What a sign-in page may load: nothing from elsewhere, no scripts; it may not be framed. */
export const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/** Headers of every HTML page of the IdP besides its CSP: not framed, not cached, not sniffed, no referrer. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Cache-Control': 'no-store',
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
});

/** Sends a page that may not be framed, cached, or load anything from elsewhere. */
export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Security-Policy', PAGE_CSP);
  for (const [name, value] of Object.entries(PAGE_HEADERS)) res.setHeader(name, value);
  res.end(html);
}

/** 303 to a path on this origin only (never to a client-supplied location). */
export function redirectLocal(res: ServerResponse, path: string): void {
  if (!path.startsWith('/') || path.startsWith('//') || path.includes('\\')) {
    throw new GatehouseError('ERR_INTERNAL', { detail: `refusing non-local redirect ${path}` });
  }
  res.statusCode = 303;
  res.setHeader('Location', path);
  res.setHeader('Cache-Control', 'no-store');
  res.end();
}

/** Reads an `application/x-www-form-urlencoded` body of at most 16 KiB. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new GatehouseError('ERR_REQUEST_MALFORMED', { detail: `form content-type ${type}` });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) throw new GatehouseError('ERR_REQUEST_BODY_TOO_LARGE', { detail: 'sign-in form' });
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** The single value of a form field, or undefined when missing or repeated. */
export function field(form: URLSearchParams, name: string): string | undefined {
  const values = form.getAll(name);
  return values.length === 1 ? values[0] : undefined;
}
