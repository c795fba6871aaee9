/**
 * An upstream that speaks raw bytes (node:net on loopback): for answers no HTTP server library
 * would write — interim 1xx heads, invalid status lines, framing errors, chosen Set-Cookie
 * fields. `close` also destroys the sockets still open, so keep-alive pools do not hold the
 * suite open.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';

export interface RawUpstream {
  /** `http://127.0.0.1:<port>`, for an upstream's `url`. */
  url: string;
  close(): void;
}

export async function startRawUpstream(onConnection: (socket: Socket) => void): Promise<RawUpstream> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
