/** Promise forms of a server's listen and close, for start-up and shutdown. */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';

export function listen(server: HttpServer | HttpsServer, port: number, host: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolvePromise(); });
  });
}

export function closeServer(server: HttpServer | HttpsServer): Promise<void> {
  return new Promise((r) => server.close(() => r()));
}
