/** RFC 8176 `amr` values that mean a second factor was used at login. */
const MFA_METHODS: ReadonlySet<string> = new Set(['otp', 'mfa', 'hwk', 'swk', 'sms', 'fpt', 'face', 'iris', 'pop']);

/** True when the login's `amr` shows a second factor. */
export function usedMfa(amr: readonly string[]): boolean {
  return amr.some((m) => MFA_METHODS.has(m));
}
