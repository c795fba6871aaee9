/**
 * Translates driver errors (node:sqlite, pg, sockets) into the store's stable codes:
 * - `ERR_STORE_UNAVAILABLE`: the database cannot be reached or used right now
 *   (refused/lost connection, TLS failure, authentication, missing database, busy, I/O, timeouts);
 * - `ERR_STORE_CONFLICT`: a unique/primary-key/foreign-key constraint or a
 *   serialization failure — the caller's write collides with existing data.
 * - `ERR_STORE_VALUE_INVALID`: a value PostgreSQL cannot store (NUL in text, bad encoding).
 * Anything else is a programming or schema error and becomes `ERR_INTERNAL`.
 * The original error is always kept as `cause` (for the log, never the wire).
 */
import { GatehouseError } from '../core/errors.ts';

// Node socket / DNS errors seen when the server is down or unreachable.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED']);

// TLS to the server failed: its certificate is not trusted (expired, self-signed, wrong name: a
// misconfiguration or someone in the network path) or the handshake broke. The database cannot
// be used, like when it cannot be reached; it is no bug in Gatehouse.
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE', 'CERT_CHAIN_TOO_LONG', 'INVALID_CA', 'INVALID_PURPOSE', 'PATH_LENGTH_EXCEEDED', 'HOSTNAME_MISMATCH',
]);
const isTlsCode = (code: string): boolean => TLS_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_');

// PostgreSQL SQLSTATEs that mean "cannot use the database now", not "bad query".
const PG_UNAVAILABLE = new Set([
  '57P01', '57P02', '57P03', // admin/crash shutdown, cannot connect now
  '53300', '53400', '53100', '53200', // too many connections, config limit, disk full, out of memory
  '3D000', // database does not exist
  '28000', '28P01', // authentication failed
  '57014', // statement timeout / cancelled
  '25P03', // idle-in-transaction timeout
  '58030', // I/O error
]);
const PG_CONFLICT = new Set(['23505', '23503', '40001', '40P01']);
// Values PostgreSQL cannot store (NUL in text, invalid encoding, too long for an index).
const PG_VALUE_INVALID = new Set(['22021', '22P05', '54000', '22001']);

// pg reports client-side connection trouble with plain Errors; these are its messages.
// 'The server does not support SSL connections': sslmode asks for TLS and the server has none.
const PG_CLIENT_UNAVAILABLE = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|connect ECONNREFUSED|Query read timeout|server does not support SSL connections|error establishing an SSL connection/i;

// SQLite primary result codes (low byte of the extended code).
const SQLITE_CONSTRAINT = 19;
const SQLITE_CONFLICT_EXTENDED = new Set([1555 /* PRIMARYKEY */, 2067 /* UNIQUE */, 787 /* FOREIGNKEY */]);
const SQLITE_UNAVAILABLE = new Set([5 /* BUSY */, 6 /* LOCKED */, 8 /* READONLY */, 10 /* IOERR */, 11 /* CORRUPT */, 13 /* FULL */, 14 /* CANTOPEN */, 26 /* NOTADB */]);

interface DriverError { code?: unknown; errcode?: unknown; message?: unknown }

/** Returns a GatehouseError for any error thrown by a database driver. */
export function toStoreError(error: unknown): GatehouseError {
  if (error instanceof GatehouseError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as DriverError;
  const message = typeof e.message === 'string' ? e.message : String(error);
  const code = typeof e.code === 'string' ? e.code : undefined;

  if (code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number') {
    if ((e.errcode & 0xff) === SQLITE_CONSTRAINT && SQLITE_CONFLICT_EXTENDED.has(e.errcode)) {
      return new GatehouseError('ERR_STORE_CONFLICT', { detail: message, cause: error });
    }
    if (SQLITE_UNAVAILABLE.has(e.errcode & 0xff)) {
      return new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: message, cause: error });
    }
    return new GatehouseError('ERR_INTERNAL', { detail: `sqlite: ${message}`, cause: error });
  }
  // node:sqlite throws ERR_INVALID_STATE once the database is closed.
  if (code === 'ERR_INVALID_STATE' && /database is not open/i.test(message)) {
    return new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: message, cause: error });
  }
  if (code && PG_CONFLICT.has(code)) {
    return new GatehouseError('ERR_STORE_CONFLICT', { detail: message, cause: error });
  }
  if (code && PG_VALUE_INVALID.has(code)) {
    return new GatehouseError('ERR_STORE_VALUE_INVALID', { detail: message, cause: error });
  }
  if (code && (PG_UNAVAILABLE.has(code) || code.startsWith('08') || NETWORK_CODES.has(code) || isTlsCode(code))) {
    return new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: message, cause: error });
  }
  if (error instanceof AggregateError && error.errors.some((inner) => toStoreError(inner).code === 'ERR_STORE_UNAVAILABLE')) {
    // Node reports a refused dual-stack connect (localhost → ::1 and 127.0.0.1) as an AggregateError.
    return new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: message || 'connection failed', cause: error });
  }
  if (PG_CLIENT_UNAVAILABLE.test(message)) {
    return new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: message, cause: error });
  }
  return new GatehouseError('ERR_INTERNAL', { detail: `store: ${message}`, cause: error });
}
