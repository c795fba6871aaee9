/**
 * A whole transaction in one simple-protocol Query message around a `COPY … FROM STDIN`:
 *
 *   BEGIN; <statements>; COPY … FROM STDIN; COMMIT        → CopyInResponse, then rows → done
 *
 * PostgreSQL runs the statements of one Query message in order and asks for the COPY's rows
 * in between, so the transaction takes two round trips. Kysely's transaction sends one
 * statement per round trip; for the audit log's append that was six (BEGIN, lock the chain
 * head, COPY and its rows, move the head, COMMIT), and each waited for the event loop of a
 * busy process to read its answer (~1 ms each in the audit bench).
 *
 * The statements carry their values as literals (there are no parameters in a simple Query):
 * callers build them from numbers, hex digests and {@link pg.escapeLiteral}. They must not
 * return rows (the COPY query object has no row handlers). On any error the server skips the
 * rest of the message; the transaction it began is rolled back here before the connection
 * goes back to the pool, and a connection that cannot even do that is not reused.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** Runs `text` (BEGIN … COPY … FROM STDIN; COMMIT) with `data` as the COPY's rows; resolves with the rows copied. */
export async function copyTransaction(pool: pg.Pool, text: string, data: Buffer): Promise<number> {
  const client = await pool.connect();
  let unusable: Error | undefined;
  try {
    const stream = client.query(copyFrom(text));
    // One CopyData message (see copy-in.ts): nothing left to send once the server has refused.
    await pipeline(Readable.from([data]), stream);
    return stream.rowCount;
  } catch (error) {
    try {
      await client.query('rollback');
    } catch (rollbackError) {
      unusable = rollbackError as Error;
    }
    throw error;
  } finally {
    client.release(unusable);
  }
}
