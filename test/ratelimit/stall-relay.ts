/**
 * A TCP relay in front of Redis whose open connections can be stalled: `stall()` makes every
 * connection open at that moment stop carrying bytes in either direction, without closing it,
 * as when the host at the other end is gone and nothing sends a reset (powered off, dropped by
 * a firewall, a partition). Connections opened afterwards are relayed normally, as when Redis
 * answers at its address again (a restarted pod, a failover behind the same address).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export class StallRelay {
  readonly #host: string;
  readonly #port: number;
  readonly #server: Server;
  readonly #open = new Set<Socket>();
  readonly #stalled = new WeakSet<Socket>();
  port = 0;

  constructor(targetHost: string, targetPort: number) {
    this.#host = targetHost;
    this.#port = targetPort;
    this.#server = createServer((client) => this.#relay(client));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    if (address && typeof address === 'object') this.port = address.port;
  }

  stall(): void {
    for (const socket of this.#open) this.#stalled.add(socket);
  }

  async close(): Promise<void> {
    for (const socket of this.#open) socket.destroy();
    this.#open.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #relay(client: Socket): void {
    const upstream = connect(this.#port, this.#host);
    this.#open.add(client).add(upstream);
    // Bytes of a stalled connection are held back for good, not dropped from a live stream:
    // TCP would retransmit them, so nothing after them may arrive either.
    client.on('data', (chunk) => { if (!this.#stalled.has(client)) upstream.write(chunk); });
    upstream.on('data', (chunk) => { if (!this.#stalled.has(client)) client.write(chunk); });
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.#open.delete(client);
      this.#open.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  }
}
