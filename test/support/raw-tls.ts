/** Sends bytes exactly as given over TLS and returns what came back (for smuggling and CRLF tests). */
import { connect } from 'node:tls';

export function rawTlsRequest(port: number, payload: string | Buffer, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { socket.destroy(); resolve(Buffer.concat(chunks).toString('latin1')); }, timeoutMs);
    socket.once('secureConnect', () => socket.write(payload));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => { clearTimeout(timer); socket.destroy(); resolve(Buffer.concat(chunks).toString('latin1')); });
    socket.once('error', (err) => { clearTimeout(timer); if (chunks.length) resolve(Buffer.concat(chunks).toString('latin1')); else reject(err); });
  });
}

export function statusOf(response: string): number {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(response);
  return m ? Number(m[1]) : 0;
}

/** Sends `request` over TLS and returns the response head (up to the blank line), waiting at most `timeoutMs`. */
export async function rawTlsResponseHead(port: number, request: string, timeoutMs = 3000): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
  socket.on('error', () => undefined);
  try {
    await new Promise<void>((r, j) => { socket.once('secureConnect', () => r()); socket.once('error', j); });
    let data = '';
    socket.on('data', (d: Buffer) => { data += d.toString('latin1'); });
    socket.write(request);
    const until = Date.now() + timeoutMs;
    while (!data.includes('\r\n\r\n') && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    if (!data.includes('\r\n\r\n')) throw new Error(`no response head within ${timeoutMs} ms: ${JSON.stringify(data)}`);
    return data.slice(0, data.indexOf('\r\n\r\n'));
  } finally {
    socket.destroy();
  }
}

/** What a raw exchange got back, and whether the server closed the connection (false: the wait ran out first). */
export interface RawExchange { raw: string; closedByServer: boolean }

/** Like {@link rawTlsRequest}, and says whether the server ended the connection within `timeoutMs`. */
export function rawTlsExchange(port: number, payload: string | Buffer, timeoutMs = 3000): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
    const chunks: Buffer[] = [];
    let closedByServer = false;
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.once('secureConnect', () => socket.write(payload));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => { closedByServer = true; socket.destroy(); });
    socket.on('error', () => { closedByServer = true; });
    socket.once('close', () => { clearTimeout(timer); resolve({ raw: Buffer.concat(chunks).toString('latin1'), closedByServer }); });
  });
}

/** One HTTP/1.1 response read off the wire. */
export interface WireResponse { status: number; headers: Record<string, string>; body: string }

/**
 * Splits what came back on one connection into its responses, in order (Content-Length or
 * chunked bodies); `rest` is whatever followed the last whole response (nothing, normally).
 */
export function responsesOf(raw: string): { responses: WireResponse[]; rest: string } {
  const responses: WireResponse[] = [];
  let at = 0;
  while (at < raw.length) {
    const end = raw.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const [statusLine, ...fields] = raw.slice(at, end).split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3})/.exec(statusLine!);
    if (!m) break;
    const headers: Record<string, string> = {};
    for (const f of fields) {
      const colon = f.indexOf(':');
      headers[f.slice(0, colon).toLowerCase()] = f.slice(colon + 1).trim();
    }
    let pos = end + 4;
    let body = '';
    if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const lineEnd = raw.indexOf('\r\n', pos);
        if (lineEnd < 0) return { responses, rest: raw.slice(at) };
        const size = parseInt(raw.slice(pos, lineEnd), 16);
        pos = lineEnd + 2;
        if (size === 0) { pos = raw.indexOf('\r\n\r\n', pos - 2) + 4; break; }
        body += raw.slice(pos, pos + size);
        pos += size + 2;
      }
    } else {
      const length = Number(headers['content-length'] ?? 0);
      if (raw.length - pos < length) break;
      body = raw.slice(pos, pos + length);
      pos += length;
    }
    responses.push({ status: Number(m[1]), headers, body });
    at = pos;
  }
  return { responses, rest: raw.slice(at) };
}
