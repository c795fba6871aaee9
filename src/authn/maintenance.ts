/**
 * Background upkeep of authentication state in the store: deletes expired sessions, pending
 * logins, revocations and seen DPoP proofs, and re-reads revoked token ids so that a
 * revocation whose event was lost (bus partition) still takes effect within
 * `revocationRefreshMs`. Deletes are idempotent, so every instance may run it; a failed run
 * is logged and retried at the next tick.
 */
import type { Logger } from 'pino';
import type { RevocationList } from './revocation-list.ts';

export interface AuthnMaintenanceOptions {
  revocations: RevocationList;
  sessions?: { prune(nowMs: number, idleTimeoutMs: number): Promise<number> } | undefined;
  logins?: { prune(nowMs: number): Promise<number> } | undefined;
  dpopProofs?: { prune(nowMs: number): Promise<number> } | undefined;
  idleTimeoutMs: number;
  pruneIntervalMs: number;
  revocationRefreshMs: number;
  logger?: Logger | undefined;
}

export interface AuthnMaintenance {
  /** One pruning pass now (also what the timer runs). */
  prune(): Promise<void>;
  /** Stops the timers and waits for a running pass. */
  stop(): Promise<void>;
}

/** @example const upkeep = startAuthnMaintenance({ revocations: authn.revocations, sessions, … }); */
export function startAuthnMaintenance(o: AuthnMaintenanceOptions): AuthnMaintenance {
  let running: Promise<void> = Promise.resolve();
  const serially = (what: string, fn: () => Promise<void>) => {
    running = running.then(fn).catch((err: unknown) => o.logger?.warn({ err }, `authn: ${what} failed`));
    return running;
  };
  const prune = () => serially('pruning expired state', async () => {
    const now = Date.now();
    const counts = {
      sessions: await o.sessions?.prune(now, o.idleTimeoutMs) ?? 0,
      logins: await o.logins?.prune(now) ?? 0,
      dpopProofs: await o.dpopProofs?.prune(now) ?? 0,
    };
    await o.revocations.prune(Math.floor(now / 1000));
    if (counts.sessions + counts.logins + counts.dpopProofs > 0) o.logger?.debug(counts, 'authn: expired state pruned');
  });
  const refresh = () => serially('re-reading revocations', () => o.revocations.load());
  const timers = [setInterval(() => { void prune(); }, o.pruneIntervalMs), setInterval(() => { void refresh(); }, o.revocationRefreshMs)];
  // Upkeep alone must not keep the process alive.
  for (const t of timers) t.unref();
  return {
    prune,
    async stop() {
      for (const t of timers) clearInterval(t);
      await running;
    },
  };
}
