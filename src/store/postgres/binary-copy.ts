/**
 * `COPY (select …) TO STDOUT (FORMAT binary)` on a pg pool, for a read whose per-row cost
 * is the work itself (audit verify): the rows arrive as the column bytes PostgreSQL sends,
 * copied into one buffer per result, with each field's place in it; no JS string or
 * object is made per value. pg's parser turns every DataRow field into a string, which
 * costs more than what verify does with it; CopyData messages it hands over as bytes.
 *
 * The wire format (PostgreSQL docs, "COPY … Binary Format"): an 11-byte signature, a flags
 * word, a header-extension length and extension, then per row an int16 field count and
 * per field an int32 length (-1: null) and that many bytes, then an int16 -1. A text
 * field is its bytes in the client encoding, an int8 8 bytes big-endian. Everything here
 * is parsed as a stream, whatever the framing of the CopyData messages.
 *
 * The query is run by a pg Submittable (pg's documented extension point, as pg-copy-streams
 * uses it) on a client checked out of the pool.
 */
import type pg from 'pg';

/** The rows of one binary COPY: spans into `data`, `fields` (start, length) pairs a row. */
export interface BinaryRows {
  readonly data: Buffer;
  /** Per row and field: start in `data`, then length (-1 for null). */
  readonly spans: Int32Array;
  /** Fields per row. */
  readonly fields: number;
  readonly length: number;
}

/**
 * Memory a COPY result is read into, reused by the next COPY given the same one: a reader
 * of many pages would otherwise allocate megabytes per page outside the JS heap, and V8
 * answers each such allocation with a full garbage collection.
 */
export interface BinaryRowsBuffer {
  data: Buffer;
  spans: Int32Array;
}

/** A buffer for results of about `bytes` bytes and `rows` rows of `fields` fields (both grow when needed). */
export function binaryRowsBuffer(bytes: number, rows: number, fields: number): BinaryRowsBuffer {
  return { data: Buffer.allocUnsafeSlow(Math.max(bytes, 1024)), spans: new Int32Array(Math.max(rows, 1) * fields * 2) };
}

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** Thrown (then mapped by the caller) when the server sends something that is not a binary COPY of `fields` columns. */
export class BinaryCopyFormatError extends Error {}

interface CopyDataMessage { chunk: Buffer }
interface Connection { query(text: string): void }

/** pg Submittable running one COPY TO STDOUT with the simple query protocol. */
class CopyOut {
  readonly #text: string;
  #data: Buffer;
  #length = 0;
  #error: Error | undefined;
  /** Settles with the buffer holding the result (`data`, or a larger one), its first `length` bytes. */
  readonly promise: Promise<Buffer>;
  #resolve!: (data: Buffer) => void;
  #reject!: (error: Error) => void;

  constructor(text: string, data: Buffer) {
    this.#text = text;
    this.#data = data;
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  submit(connection: Connection): void {
    connection.query(this.#text);
  }

  // pg's parser reuses its buffer once a message is handled: the bytes are copied out now.
  handleCopyData(message: CopyDataMessage): void {
    const chunk = message.chunk;
    const need = this.#length + chunk.length;
    if (need > this.#data.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(need, this.#data.length * 2));
      this.#data.copy(grown, 0, 0, this.#length);
      this.#data = grown;
    }
    chunk.copy(this.#data, this.#length);
    this.#length = need;
  }

  handleError(error: Error): void {
    this.#reject(error);
  }

  handleReadyForQuery(): void {
    if (this.#error) this.#reject(this.#error);
    else this.#resolve(this.#data);
  }

  get length(): number {
    return this.#length;
  }

  handleCommandComplete(): void {}

  // Anything but COPY OUT (a statement that returns rows the normal way, or COPY FROM) is refused.
  #unexpected(what: string): void {
    this.#error ??= new BinaryCopyFormatError(`expected COPY TO STDOUT data, got ${what}`);
  }
  handleRowDescription(): void { this.#unexpected('a row description'); }
  handleDataRow(): void { this.#unexpected('a data row'); }
  handleEmptyQuery(): void { this.#unexpected('an empty query'); }
  handlePortalSuspended(): void { this.#unexpected('a suspended portal'); }
  handleCopyInResponse(connection: { sendCopyFail(message: string): void }): void {
    this.#unexpected('COPY FROM STDIN');
    connection.sendCopyFail('not supported');
  }
}

/**
 * Runs `COPY (<select>) TO STDOUT (FORMAT binary)`; `select` must not contain parameters
 * (COPY takes none): literals in it must be escaped by the caller. The result is read into
 * `into` (grown when needed) and is valid until `into` is used again.
 */
export async function binaryCopy(pool: pg.Pool, select: string, fields: number, into: BinaryRowsBuffer): Promise<BinaryRows> {
  const client = await pool.connect();
  const copy = new CopyOut(`copy (${select}) to stdout (format binary)`, into.data);
  try {
    client.query(copy as unknown as pg.QueryConfig);
    into.data = await copy.promise;
  } catch (error) {
    // A COPY that failed half-way may leave the connection in any state: it is not reused.
    client.release(error instanceof Error ? error : true);
    throw error;
  }
  client.release();
  return parseBinaryCopy(into, copy.length, fields);
}

/** The rows of a complete binary COPY stream (the first `length` bytes of `into.data`), each of exactly `fields` fields. */
export function parseBinaryCopy(into: BinaryRowsBuffer, length: number, fields: number): BinaryRows {
  const data = into.data.subarray(0, length);
  if (data.length < SIGNATURE.length + 8 || !data.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new BinaryCopyFormatError('no binary COPY signature');
  let p = SIGNATURE.length + 4;
  p += 4 + data.readUInt32BE(p);
  let spans = into.spans;
  let rows = 0;
  for (;;) {
    if (p + 2 > data.length) throw new BinaryCopyFormatError('binary COPY stream ends without its trailer');
    const count = data.readInt16BE(p);
    p += 2;
    if (count === -1) break;
    if (count !== fields) throw new BinaryCopyFormatError(`binary COPY row of ${count} fields, expected ${fields}`);
    if ((rows + 1) * fields * 2 > spans.length) {
      const grown = new Int32Array(Math.max(spans.length * 2, fields * 2 * 64));
      grown.set(spans);
      spans = into.spans = grown;
    }
    let s = rows * fields * 2;
    for (let f = 0; f < fields; f++) {
      if (p + 4 > data.length) throw new BinaryCopyFormatError('binary COPY row cut short');
      const length = data.readInt32BE(p);
      p += 4;
      spans[s++] = p;
      spans[s++] = length;
      if (length > 0) p += length;
      if (p > data.length) throw new BinaryCopyFormatError('binary COPY field cut short');
    }
    rows++;
  }
  return { data, spans, fields, length: rows };
}
