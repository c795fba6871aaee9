/**
 * How close the issuing intermediate is to its end. An intermediate lives
 * `pki.intermediateLifetimeDays` (a year by default); once it has expired the CA issues
 * nothing, and every workload's renewal fails until an operator runs
 * `gatehouse ca rotate-intermediate`. So the instances say so well before: a log warning and
 * a degraded `pki` dependency in `/readyz` from `pki.intermediateWarningDays` before.
 */
import { GatehouseError } from '../core/errors.ts';

/** The CA cannot issue a certificate shorter than this, so less left counts as expired. */
export const MIN_ISSUING_SECONDS = 300;

const DAY_MS = 86_400_000;
const ROTATE = 'run `gatehouse ca rotate-intermediate`';

export interface IntermediateExpiry {
  state: 'ok' | 'expiring' | 'expired';
  serial: string;
  notAfter: Date;
  /** Whole days left (0 on the last day; negative once expired). */
  daysLeft: number;
  /** For the log and `/readyz`: what is wrong and what to run. */
  message: string;
}

export function judgeIntermediateExpiry(issuing: { serial: string; notAfter: Date }, now: Date, warningDays: number): IntermediateExpiry {
  const leftMs = issuing.notAfter.getTime() - now.getTime();
  const daysLeft = Math.floor(leftMs / DAY_MS);
  const base = { serial: issuing.serial, notAfter: issuing.notAfter, daysLeft };
  const until = issuing.notAfter.toISOString();
  if (leftMs < MIN_ISSUING_SECONDS * 1000) {
    return { ...base, state: 'expired', message: `the issuing intermediate CA (serial ${issuing.serial}) expired at ${until}; no certificate can be issued or renewed: ${ROTATE}` };
  }
  if (leftMs < warningDays * DAY_MS) {
    return { ...base, state: 'expiring', message: `the issuing intermediate CA (serial ${issuing.serial}) expires at ${until} (${daysLeft} days left); after that no certificate can be issued or renewed: ${ROTATE}` };
  }
  return { ...base, state: 'ok', message: `issuing intermediate CA valid until ${until}` };
}

/** What issuance throws once the intermediate has (nearly) expired. */
export function intermediateExpiredError(issuing: { serial: string; notAfter: Date }, now: Date): GatehouseError {
  return new GatehouseError('ERR_PKI_INTERMEDIATE_EXPIRED', { detail: judgeIntermediateExpiry(issuing, now, 0).message });
}
