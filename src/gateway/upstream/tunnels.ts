/**
 * Open WebSocket tunnels and who opened them. A tunnel is authorized once, at its handshake,
 * then carries bytes for as long as both sides keep it busy: without this, a tunnel opened
 * with a token or session outlived the credential's expiry, its revocation, a sign-out
 * everywhere, a disabled account and a block by detection. Each tunnel is closed when the
 * credential that opened it expires (a timer here) and when whoever ends that credential
 * says so ({@link TunnelRegistry.closeWhere}: authentication's invalidations, detection's
 * blocks). One registry per gateway, shared by its generations: a reload does not forget
 * tunnels opened before it.
 */
import type { Identity } from '../context.ts';

export interface OpenTunnel {
  /** Who opened it; undefined on a public route. */
  readonly identity: Identity | undefined;
  /** The client address the accept stage resolved. */
  readonly clientAddress: string;
  readonly routeId: string;
  readonly requestId: string;
  /** The client's connection (a TLS socket on the public listener: its client certificate). */
  readonly clientSocket: unknown;
}

interface Entry extends OpenTunnel {
  readonly close: (reason: string) => void;
  timer: NodeJS.Timeout | undefined;
}

/** setTimeout's longest delay (about 24.8 days); a later expiry is reached in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export class TunnelRegistry {
  readonly #open = new Set<Entry>();

  /**
   * Registers a tunnel that has just switched protocols. `close` ends both sides; it is
   * called at most once, with the reason, by the registry. Returns the function that
   * unregisters it (call it when the tunnel closes for any other reason).
   */
  add(tunnel: OpenTunnel, close: (reason: string) => void): () => void {
    const entry: Entry = { ...tunnel, close, timer: undefined };
    this.#open.add(entry);
    const expiresAt = tunnel.identity?.expiresAt;
    if (expiresAt !== undefined) this.#armExpiry(entry, expiresAt);
    return () => this.#remove(entry);
  }

  /** Closes every open tunnel `match` selects; returns how many. */
  closeWhere(match: (tunnel: OpenTunnel) => boolean, reason: string): number {
    let closed = 0;
    for (const entry of [...this.#open]) {
      if (!match(entry)) continue;
      this.#end(entry, reason);
      closed++;
    }
    return closed;
  }

  get size(): number {
    return this.#open.size;
  }

  #armExpiry(entry: Entry, expiresAt: number): void {
    const delay = expiresAt - Date.now();
    if (delay <= 0) { queueMicrotask(() => this.#end(entry, 'credential expired')); return; }
    entry.timer = setTimeout(() => {
      if (Date.now() >= expiresAt) this.#end(entry, 'credential expired');
      else this.#armExpiry(entry, expiresAt);
    }, Math.min(delay, MAX_DELAY_MS));
    // A tunnel must not keep the process alive for its credential's sake.
    entry.timer.unref();
  }

  #end(entry: Entry, reason: string): void {
    if (!this.#open.has(entry)) return;
    this.#remove(entry);
    entry.close(reason);
  }

  #remove(entry: Entry): void {
    clearTimeout(entry.timer);
    this.#open.delete(entry);
  }
}
