/**
 * How close the issuing intermediate is to its end. An intermediate lives
 * `pki.intermediateLifetimeDays` (a year by default); once it has expired the CA issues
 * nothing, and every workload's renewal fails until an operator runs
 * `gatehouse ca rotate-intermediate`. So the instances say so well before: a log warning and
 * a degraded `pki` dependency in `/readyz` from `pki.intermediateWarningDays` before.
 */
import { GatehouseError } from '../core/errors.ts';
import { judgeCaExpiry, type CaExpiry, type CaExpiryWording } from './ca-expiry.ts';

/** The CA cannot issue a certificate shorter than this, so less left counts as expired. */
export const MIN_ISSUING_SECONDS = 300;

const WORDING: CaExpiryWording = {
  what: 'the issuing intermediate CA',
  expired: 'no certificate can be issued or renewed',
  expiring: 'after that no certificate can be issued or renewed',
  action: 'run `gatehouse ca rotate-intermediate`',
  ok: (until) => `issuing intermediate CA valid until ${until}`,
  minLeftMs: MIN_ISSUING_SECONDS * 1000,
};

export type IntermediateExpiry = CaExpiry;

export function judgeIntermediateExpiry(issuing: { serial: string; notAfter: Date }, now: Date, warningDays: number): IntermediateExpiry {
  return judgeCaExpiry(issuing, now, warningDays, WORDING);
}

/** What issuance throws once the intermediate has (nearly) expired. */
export function intermediateExpiredError(issuing: { serial: string; notAfter: Date }, now: Date): GatehouseError {
  return new GatehouseError('ERR_PKI_INTERMEDIATE_EXPIRED', { detail: judgeIntermediateExpiry(issuing, now, 0).message });
}
