/**
 * How close the root CA is to its end. Every certificate of the CA chains to it, so when it
 * expires every workload certificate and intermediate stops verifying at once, and long before
 * that each `ca rotate-intermediate` gives an intermediate that ends with the root (a CA
 * certificate cannot outlive its issuer). Replacing a root means handing a new trust bundle to
 * every relying party, which takes time: so instances say so from `pki.rootWarningDays` (90)
 * before, as they do for the intermediate (log warning, degraded `pki` in `/readyz`).
 */

const DAY_MS = 86_400_000;
const REPLACE = 'replace the root as docs/pki.md ("Root expiry") describes; Gatehouse has no command for it';

export interface RootExpiry {
  state: 'ok' | 'expiring' | 'expired';
  serial: string;
  notAfter: Date;
  /** Whole days left (0 on the last day; negative once expired). */
  daysLeft: number;
  /** For the log and `/readyz`: what is wrong and what to do. */
  message: string;
}

export function judgeRootExpiry(root: { serial: string; notAfter: Date }, now: Date, warningDays: number): RootExpiry {
  const leftMs = root.notAfter.getTime() - now.getTime();
  const daysLeft = Math.floor(leftMs / DAY_MS);
  const base = { serial: root.serial, notAfter: root.notAfter, daysLeft };
  const until = root.notAfter.toISOString();
  if (leftMs <= 0) {
    return { ...base, state: 'expired', message: `the root CA (serial ${root.serial}) expired at ${until}; no certificate of this CA verifies: ${REPLACE}` };
  }
  if (leftMs < warningDays * DAY_MS) {
    return { ...base, state: 'expiring', message: `the root CA (serial ${root.serial}) expires at ${until} (${daysLeft} days left); every certificate of this CA stops verifying then, and intermediates rotated before end with it: ${REPLACE}` };
  }
  return { ...base, state: 'ok', message: `root CA valid until ${until}` };
}
