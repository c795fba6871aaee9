/**
 * Whether a sign-in's RFC 8176 `amr` shows more than one factor. `mfa` says so outright;
 * otherwise the methods must come from two categories — something known, something held,
 * something one is. A single possession method alone (`otp` for a one-time code sent as the
 * only factor, `hwk` for a security key without a PIN) is one factor, however strong, so
 * an external issuer's `amr: ["otp"]` or `["hwk", "pop"]` is not a second factor.
 * Presence (`user`), risk scoring (`rba`), location (`geo`) and channels (`mca`) are no factor.
 */
const CATEGORY: ReadonlyMap<string, 'knows' | 'has' | 'is'> = new Map([
  ['pwd', 'knows'], ['pin', 'knows'], ['kba', 'knows'],
  ['otp', 'has'], ['hwk', 'has'], ['swk', 'has'], ['sms', 'has'], ['tel', 'has'], ['pop', 'has'], ['sc', 'has'],
  ['fpt', 'is'], ['face', 'is'], ['iris', 'is'], ['retina', 'is'], ['vbm', 'is'],
]);

/** True when the login's `amr` shows a second factor: `mfa`, or methods of two categories. */
export function usedMfa(amr: readonly string[]): boolean {
  let first: string | undefined;
  for (const method of amr) {
    if (method === 'mfa') return true;
    const category = CATEGORY.get(method);
    if (category === undefined) continue;
    if (first === undefined) first = category;
    else if (category !== first) return true;
  }
  return false;
}
