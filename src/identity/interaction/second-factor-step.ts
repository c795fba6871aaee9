/**
 * What a sign-in asks for after the password (or federation) step: the code of the user's
 * enrolled TOTP, the enrolment of one, a refusal, or nothing more.
 *
 * Enrolling proves nothing but the first step: whoever has the password can add an
 * authenticator of their own. So by default a sign-in that asks for the second factor (a
 * step-up) is refused for an account without one (`not_enrolled`) rather than met by
 * enrolling, and an enrolment — due at an ordinary sign-in under `mfa.required` or
 * `mfa.requiredForRoles` — is no second factor of its own sign-in
 * ({@link enrollmentIsSecondFactor}). `mfa.enrollDuringStepUp` restores both conveniences.
 */
import type { IdentityConfig } from '../../core/config/identity-schema.ts';
import type { UserRecord } from '../../store/repos/identity-users-repo.ts';

export type SecondFactorStep = 'verify' | 'enroll' | 'not_enrolled' | 'none';

/** True when the configuration demands TOTP of this user (`mfa.required`, or a role of `mfa.requiredForRoles`). */
export function mfaRequiredFor(mfa: IdentityConfig['mfa'], user: Pick<UserRecord, 'roles'>): boolean {
  return mfa.required || user.roles.some((role) => mfa.requiredForRoles.includes(role));
}

/**
 * @param stepUp the client asked for the MFA acr (a step-up sign-in).
 */
export function secondFactorStep(mfa: IdentityConfig['mfa'], user: Pick<UserRecord, 'roles' | 'totpEnabled'>, stepUp: boolean): SecondFactorStep {
  if (user.totpEnabled) return 'verify';
  if (stepUp) return mfa.enrollDuringStepUp ? 'enroll' : 'not_enrolled';
  return mfaRequiredFor(mfa, user) ? 'enroll' : 'none';
}

/** Whether the sign-in that enrolled a TOTP may claim it (`amr` otp/mfa, the MFA acr). */
export function enrollmentIsSecondFactor(mfa: IdentityConfig['mfa']): boolean {
  return mfa.enrollDuringStepUp;
}
