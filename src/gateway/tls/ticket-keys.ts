/**
 * Rotation of the public listener's TLS session ticket key.
 *
 * The ticket key encrypts the session state each client keeps in its ticket: in TLS 1.2 the
 * session's master secret, which decrypts the recorded first connection and every resumption of
 * it; in TLS 1.3 the resumption secret (and with it the right to resume as that session, client
 * certificate included). OpenSSL makes one random key per context and keeps it for the context's
 * life, so a key read from the process's memory once opened every recorded TLS 1.2 session and
 * let its holder forge tickets (resume as any client) for as long as the process ran. Here a
 * fresh random key replaces it every interval and the old one is overwritten in place: a key read
 * from memory opens only the tickets issued in its own interval, and nothing once that interval
 * is over.
 *
 * Go's crypto/tls (a new key every 24 h, each accepted for 7 days) and nginx (a list of
 * `ssl_session_ticket_key` files, the first encrypts, all decrypt) keep older keys for
 * decryption. Node cannot: `setTicketKeys` takes exactly one 48-byte key (16 name, 16 HMAC, 16
 * AES) and its ticket callback decrypts with that key or not at all. So the key's life is one
 * interval, and a client that comes back across a rotation makes a full handshake instead of
 * resuming: one that returns d minutes after its last connection misses resumption with a chance
 * of d/60 under the hourly default. (Tickets carry OpenSSL's lifetime hint of 7200 s; none
 * outlives its key.)
 *
 * A certificate reload, or new client CA names after a root rotation (setSecureContext), builds a
 * new context with a new random key of its own, so no session from before it resumes; the
 * schedule goes on with it (`server.setTicketKeys` always reaches the current context).
 * Instances behind a load balancer each have their own key: a client resumes only with the
 * instance that issued its ticket.
 */
import { randomBytes } from 'node:crypto';
import type { Server as TlsServer } from 'node:tls';

/** Node's ticket key: 16 bytes key name, 16 bytes HMAC secret, 16 bytes AES key. */
const TICKET_KEY_BYTES = 48;

export class TicketKeyRotation {
  readonly #server: TlsServer;
  #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;

  /**
   * Starts rotating at once; stops when the server closes.
   *
   * @example
   *   const rotation = new TicketKeyRotation(httpsServer, 3_600_000);
   */
  constructor(server: TlsServer, intervalMs: number) {
    this.#server = server;
    this.#intervalMs = intervalMs;
    this.#schedule();
    server.once('close', () => this.stop());
  }

  get intervalMs(): number { return this.#intervalMs; }

  /** Replaces the key now: tickets issued under the old one no longer resume. */
  rotate(): void {
    const key = randomBytes(TICKET_KEY_BYTES);
    this.#server.setTicketKeys(key);
    // The context holds its own copy; none is left behind on the JS heap until a GC.
    key.fill(0);
  }

  /** A reload's new interval, counted from now. */
  setInterval(intervalMs: number): void {
    if (intervalMs === this.#intervalMs) return;
    this.#intervalMs = intervalMs;
    this.#schedule();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => this.rotate(), this.#intervalMs);
    // The listener keeps the process running, not this timer.
    this.#timer.unref();
  }
}
