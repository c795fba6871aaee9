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
