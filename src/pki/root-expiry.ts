/**
 * How close the root CA is to its end. Every certificate of the CA chains to it, so when it
 * expires every workload certificate and intermediate stops verifying at once, and long before
 * that each `ca rotate-intermediate` gives an intermediate that ends with the root (a CA
 * certificate cannot outlive its issuer). Replacing a root (`ca rotate-root`) means handing a new
 * trust bundle to every relying party before the new root issues, which takes time: so instances
 * say so from `pki.rootWarningDays` (90) before, as they do for the intermediate (log warning,
 * degraded `pki` in `/readyz`).
 */

import { judgeCaExpiry, type CaExpiry, type CaExpiryWording } from './ca-expiry.ts';

const WORDING: CaExpiryWording = {
  what: 'the root CA',
  expired: 'no certificate of this CA verifies',
  expiring: 'every certificate of this CA stops verifying then, and intermediates rotated before end with it',
  action: 'run `gatehouse ca rotate-root`, hand the new bundle to every relying party, then `gatehouse ca rotate-root --activate` (docs/pki.md, "Root rotation")',
  ok: (until) => `root CA valid until ${until}`,
};

export type RootExpiry = CaExpiry;

export function judgeRootExpiry(root: { serial: string; notAfter: Date }, now: Date, warningDays: number): RootExpiry {
  return judgeCaExpiry(root, now, warningDays, WORDING);
}
