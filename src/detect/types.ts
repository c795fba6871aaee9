/** Domain types of anomaly detection: alerts, blocks, and what the identity side implements. */

export type BlockKind = 'address' | 'subject';

export interface Alert {
  /** Deterministic: `<rule>:<key kind>:<key>:<window start>`, so several instances seeing the same events store one alert. */
  id: string;
  rule: string;
  severity: 'low' | 'medium' | 'high';
  keyKind: 'address' | 'subject' | 'account';
  key: string;
  /** Events counted in the window (or the observed rate for `rate_anomaly`). */
  count: number;
  /** Epoch ms. */
  windowStart: number;
  /** Actions taken: `alert`, `block`, `lock`. */
  actions: string[];
  details: Record<string, unknown>;
  instance: string;
  createdAt: number;
}

export interface Block {
  id: string;
  kind: BlockKind;
  value: string;
  reason: string;
  alertId: string | null;
  /** `detect:<rule>` or `admin:<name>`. */
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  liftedAt: number | null;
  liftedBy: string | null;
}

/**
 * Locks an account (implemented by the identity provider, e.g. by its account service).
 * Detection calls it for brute force and repeated MFA failures; it must not throw for
 * an unknown account (the name in a failed login may not exist).
 *
 * `by` says what `account` is: a subject (user id) is looked up as an id only, never as a
 * user name, since a service's client id may be some user's name; `username` is a name
 * typed at a sign-in that found no account.
 */
export interface AccountLocker {
  lockAccount(request: { account: string; by: 'subject' | 'username'; until: Date; reason: string; alertId: string }): Promise<void>;
}
