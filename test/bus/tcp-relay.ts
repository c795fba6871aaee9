/**
 * A TCP relay that stands in for the network between Gatehouse and a backend (NATS, Redis):
 * `cut()` drops every connection and stops listening, `restore()` listens again on the same
 * port. Lets tests break a connection without restarting a shared server.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export class TcpRelay {
  readonly #host: string;
  readonly #port: number;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  port = 0;

  constructor(targetHost: string, targetPort: number) {
    this.#host = targetHost;
    this.#port = targetPort;
  }

  async start(port = 0): Promise<void> {
    this.#server = createServer((client) => {
      const upstream = connect(this.#port, this.#host);
      this.#sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    const server = this.#server;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const address = server.address();
    if (address && typeof address === 'object') this.port = address.port;
  }

  async cut(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  restore(): Promise<void> {
    return this.start(this.port);
  }
}
