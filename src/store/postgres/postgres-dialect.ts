/**
 * Kysely's PostgreSQL dialect over a `pg` Pool with Gatehouse's settings:
 * bounded pool, connect/statement/idle-in-transaction timeouts and a client-side read
 * timeout (a stuck query, a silent server or a forgotten transaction cannot hold a
 * connection forever), and `int8` read as a
 * JS number so that epoch-millisecond columns look the same as on SQLite.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import pg from 'pg';
import type { Logger } from 'pino';
import { PostgresDialect } from 'kysely';
import { acceptCopyIn } from './copy-in.ts';

export interface PostgresPoolOptions {
  /** Most connections this instance opens. */
  poolMax: number;
  /** Time to wait for a connection (new or from the pool). */
  connectTimeoutMs: number;
  /** Server-side limit on one statement. */
  statementTimeoutMs: number;
  /** Server-side limit on a transaction left idle (e.g. awaiting something else). */
  idleInTransactionTimeoutMs: number;
  /** Idle pooled connections are closed after this long. */
  idleTimeoutMs: number;
}

const INT8_OID = 20;

/**
 * `int8` (bigint, count(*)) as a number. Epoch milliseconds and counts stay far below
 * 2^53; a larger value is refused rather than silently rounded.
 */
function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError('int8 value exceeds Number.MAX_SAFE_INTEGER');
  return n;
}

const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface PostgresBackend {
  dialect: PostgresDialect;
  pool: pg.Pool;
}

export function createPostgresBackend(url: string, options: PostgresPoolOptions, logger: Logger): PostgresBackend {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolMax,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: options.idleTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    // The server ends a long statement itself; this ends the wait for a server that no longer
    // answers at all (network partition, a host gone without a reset), which TCP keepalive
    // notices only after hours. It rejects with 'Query read timeout' (ERR_STORE_UNAVAILABLE).
    query_timeout: options.statementTimeoutMs + options.connectTimeoutMs,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs,
    application_name: 'gatehouse',
    keepAlive: true,
    types,
  });
  const onError = (error: Error) => {
    logger.warn({ err: { message: error.message, code: (error as { code?: unknown }).code } }, 'store: PostgreSQL connection failed');
  };
  // A connection lost while idle in the pool (server restart, network) is emitted here.
  pool.on('error', onError);
  // A connection lost while checked out (idle-in-transaction timeout, admin kill) is
  // emitted on the client itself, where nothing listens: it would crash the process.
  // The running query still fails (ERR_STORE_UNAVAILABLE) and pg drops the client.
  pool.on('connect', (client) => {
    client.on('error', onError);
    acceptCopyIn(client);
    dropOnReadTimeout(client);
  });
  return { dialect: new PostgresDialect({ pool }), pool };
}

/**
 * pg answers a query past `query_timeout` with 'Query read timeout' but keeps the connection,
 * and the pool takes it back: after a partition that left the socket half-open (state lost in
 * a NAT or firewall, no reset ever arrives) every later query handed that connection timed out
 * again, for as long as TCP keep-alive took to notice (hours). A connection that stopped
 * answering is not trusted again: its socket is destroyed, so pg marks it unusable and the pool
 * drops it on release and opens a fresh one.
 */
function dropOnReadTimeout(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const socket = (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const result = query(...args);
    // Callback and cursor forms return no promise; only Kysely's promise form is watched.
    if (!(result instanceof Promise)) return result;
    return result.catch(async (error: unknown) => {
      if (error instanceof Error && error.message === 'Query read timeout' && socket && !socket.destroyed) {
        // Rethrown once pg has seen the socket close: the caller then releases a client the
        // pool knows to be dead, instead of one it would hand out again.
        const closed = once(socket, 'close');
        socket.destroy();
        await closed;
      }
      throw error;
    });
  };
}
