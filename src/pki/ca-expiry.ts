/**
 * How close a CA certificate (the issuing intermediate, the root) is to its end, judged the
 * same way for both: `expiring` from `warningDays` before, `expired` once less than
 * `minLeftMs` is left. The callers word what it means and what to do (intermediate-expiry.ts,
 * root-expiry.ts); the gateway logs it and reports a degraded `pki` in `/readyz`.
 */

const DAY_MS = 86_400_000;

export interface CaExpiry {
  state: 'ok' | 'expiring' | 'expired';
  serial: string;
  notAfter: Date;
  /** Whole days left (0 on the last day; negative once expired). */
  daysLeft: number;
  /** For the log and `/readyz`: what is wrong and what to do. */
  message: string;
}

export interface CaExpiryWording {
  /** `the issuing intermediate CA`, `the root CA`. */
  what: string;
  /** What follows from its end (after "expired at …;" / "expires at … (n days left);"). */
  expired: string;
  expiring: string;
  /** What to do about it. */
  action: string;
  /** The message while all is well. */
  ok: (until: string) => string;
  /** Less than this left counts as expired (default 0). */
  minLeftMs?: number;
}

export function judgeCaExpiry(cert: { serial: string; notAfter: Date }, now: Date, warningDays: number, w: CaExpiryWording): CaExpiry {
  const leftMs = cert.notAfter.getTime() - now.getTime();
  const daysLeft = Math.floor(leftMs / DAY_MS);
  const base = { serial: cert.serial, notAfter: cert.notAfter, daysLeft };
  const until = cert.notAfter.toISOString();
  if (leftMs <= 0 || leftMs < (w.minLeftMs ?? 0)) {
    return { ...base, state: 'expired', message: `${w.what} (serial ${cert.serial}) expired at ${until}; ${w.expired}: ${w.action}` };
  }
  if (leftMs < warningDays * DAY_MS) {
    return { ...base, state: 'expiring', message: `${w.what} (serial ${cert.serial}) expires at ${until} (${daysLeft} days left); ${w.expiring}: ${w.action}` };
  }
  return { ...base, state: 'ok', message: w.ok(until) };
}
