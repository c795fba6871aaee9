/**
 * Running instances follow a change of the CA record at once when it is announced on the bus.
 * `gatehouse ca rotate-intermediate` and `ca rotate-root` (prepare, `--activate`, `--cancel`)
 * run as processes of their own against the shared store and publish their events on the
 * configured bus; `cert revoke` publishes `pki.certificate.revoked`. Each instance subscribes
 * to those and refreshes its CA material, trust anchors and CRLs from the store right away,
 * instead of at its next `pki.crl.refreshIntervalSeconds` poll, which stays as the fallback for
 * an event lost (or a CLI on the in-process bus, which reaches no other process).
 *
 * The event only says "read the store again": its payload is not used, so a forged or
 * malformed one can cost a store read (coalesced by `CrlWatcher.refreshSoon`), never change
 * what an instance trusts.
 */
import type { Logger } from 'pino';
import type { EventBus } from '../bus/types.ts';
import type { EventName } from '../core/events.ts';
import type { CrlWatcher } from './mtls/crl-watcher.ts';

/** The events after which the store holds a CA record or CRL entries that instances have not read yet. */
export const CA_CHANGE_EVENTS = [
  'pki.ca.intermediate_rotated',
  'pki.ca.root_rotation_prepared',
  'pki.ca.root_rotation_cancelled',
  'pki.ca.root_rotated',
  'pki.certificate.revoked',
] as const satisfies readonly EventName[];

/**
 * Subscribes live (not durable: a durable group would hand each event to one instance only).
 * Returns the function that ends the subscription.
 *
 * @example
 *   const unfollow = followCaChanges(platform.bus, watcher, logger);
 */
export function followCaChanges(bus: Pick<EventBus, 'subscribe'>, watcher: Pick<CrlWatcher, 'refreshSoon'>, logger?: Logger): () => void {
  return bus.subscribe([...CA_CHANGE_EVENTS], (envelope) => {
    logger?.info({ event: envelope.name, id: envelope.id, from: envelope.instance }, 'certificate authority change announced; reading the CA and CRLs from the store now');
    // Not awaited: the handler returns at once, the refresh runs (and logs its failure) on its own.
    void watcher.refreshSoon();
  });
}
