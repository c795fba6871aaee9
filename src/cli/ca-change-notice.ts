/**
 * What a CA-changing command (`ca rotate-intermediate`, `ca rotate-root`, `cert revoke`) tells
 * the operator about running instances. It announces the change on the configured bus, and instances that
 * share that bus refresh at once; with the in-process bus (embedded defaults) the announcement
 * reaches no other process, so instances pick the change up at their next poll — said plainly,
 * since an operator about to `--activate` or hand out a bundle, or who revokes a stolen
 * certificate, needs to know when they follow.
 */
import type { Config } from '../core/config/schema.ts';

export interface CaChangeNotice {
  /** True when the change went out on a bus other processes share (NATS). */
  announced: boolean;
  /** One line for the operator. */
  runningInstances: string;
}

export function caChangeNotice(config: Pick<Config, 'bus' | 'pki'>): CaChangeNotice {
  if (config.bus.url === 'memory:') {
    return {
      announced: false,
      runningInstances: `not told: no shared bus is configured (bus.url is memory:); each picks the change up at its next refresh, within pki.crl.refreshIntervalSeconds (${config.pki.crl.refreshIntervalSeconds} s)`,
    };
  }
  return { announced: true, runningInstances: 'told over the bus: each reads the CA and CRLs again at once (otherwise within pki.crl.refreshIntervalSeconds)' };
}
