/**
 * Reads a request body in full, bounded by the route's limit: the approve stage must see the
 * exact bytes to bind an approval to them. The declared length was already checked by the
 * shield stage; a chunked body is counted here as the forward stage counts it.
 */
import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '../core/errors.ts';

export async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > max) throw new GatehouseError('ERR_REQUEST_BODY_TOO_LARGE', { detail: `body over ${max} bytes` });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}
