/**
 * One error base for all of Gatehouse, with a closed set of codes.
 *
 * What goes on the wire (status, code, public message) is kept apart from what
 * goes to the log (`detail`, `cause`): a client never sees internal detail.
 *
 * @example
 *   throw new GatehouseError('ERR_GATEWAY_UPSTREAM_TIMEOUT', { detail: `after ${ms} ms` });
 */
import { ERROR_CODES, type ErrorCode } from './error-codes.ts';

export interface GatehouseErrorOptions {
  /** Internal explanation for logs and audit; never sent to the client. */
  detail?: string;
  cause?: unknown;
  /** Extra response headers (e.g. Retry-After, WWW-Authenticate). */
  headers?: Record<string, string>;
  /** Overrides the registry's public message with one that is still safe to expose. */
  publicMessage?: string;
  /** Structured, non-secret data for the audit event (e.g. decision id). */
  data?: Record<string, unknown>;
}

export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly publicMessage: string;
  readonly detail: string | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly data: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, options: GatehouseErrorOptions = {}) {
    const entry = ERROR_CODES[code];
    super(options.detail ? `${code}: ${options.detail}` : `${code}: ${entry.message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatehouseError';
    this.code = code;
    this.status = entry.status;
    this.publicMessage = options.publicMessage ?? entry.message;
    this.detail = options.detail;
    this.headers = options.headers;
    this.data = options.data;
  }
}

export function isGatehouseError(value: unknown): value is GatehouseError {
  return value instanceof GatehouseError;
}

/** Wraps anything thrown into a GatehouseError; unknown failures become ERR_INTERNAL. */
export function toGatehouseError(value: unknown): GatehouseError {
  if (value instanceof GatehouseError) return value;
  const detail = value instanceof Error ? value.message : String(value);
  return new GatehouseError('ERR_INTERNAL', { detail, cause: value });
}

export type { ErrorCode };
