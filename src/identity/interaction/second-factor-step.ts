/**
 * What a sign-in asks for after the password (or federation) step: the code of the user's
 * enrolled TOTP, the enrolment of one, or nothing more.
 */
import type { IdentityConfig } from '../../core/config/identity-schema.ts';
import type { UserRecord } from '../../store/repos/identity-users-repo.ts';

export type SecondFactorStep = 'verify' | 'enroll' | 'none';

/** True when the configuration demands TOTP of this user (`mfa.required`, or a role of `mfa.requiredForRoles`). */
export function mfaRequiredFor(mfa: IdentityConfig['mfa'], user: Pick<UserRecord, 'roles'>): boolean {
  return mfa.required || user.roles.some((role) => mfa.requiredForRoles.includes(role));
}

/**
 * @param stepUp the client asked for the MFA acr (a step-up sign-in).
 */
export function secondFactorStep(mfa: IdentityConfig['mfa'], user: Pick<UserRecord, 'roles' | 'totpEnabled'>, stepUp: boolean): SecondFactorStep {
  if (user.totpEnabled) return 'verify';
  if (mfaRequiredFor(mfa, user) || stepUp) return 'enroll';
  return 'none';
}
