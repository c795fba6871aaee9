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
