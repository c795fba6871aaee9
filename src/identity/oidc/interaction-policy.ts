/**
 * oidc-provider's interaction policy with one more reason to ask for a sign-in: the browser's
 * session names an account that `findAccount` no longer gives (disabled, removed, or signed
 * out everywhere). oidc-provider only asks "is there a session?", then builds the grant for
 * the missing account and fails with a server error on every authorization request of that
 * browser until the session cookie expires; now it shows the sign-in page (`login_required`
 * for `prompt=none`), where the same or another user can sign in.
 *
 * And a second one: a client asks for the second factor (`acr_values` naming
 * `urn:gatehouse:mfa`, what an RFC 9470 challenge tells it to send) while the browser's session
 * was signed in without it. oidc-provider treats `acr_values` as voluntary and would hand out a
 * code for the password-only session (the client silently downgraded); now the sign-in pages run
 * again and demand TOTP (src/identity/interaction; an account without one is refused there).
 */
import { interactionPolicy } from 'oidc-provider';

/** The acr of a login with the second factor (set by src/identity/interaction when TOTP was used). */
export const MFA_ACR = 'urn:gatehouse:mfa';

/** True when an authorization request's `acr_values` names the MFA acr. */
export function requestsMfaAcr(acrValues: unknown): boolean {
  return typeof acrValues === 'string' && acrValues.split(' ').includes(MFA_ACR);
}

export function createInteractionPolicy(): unknown {
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(new interactionPolicy.Check(
    'account_unavailable', 'End-User authentication is required', 'login_required',
    (ctx: any) => Boolean(ctx.oidc.session.accountId) && !ctx.oidc.account,
  ), 0);
  policy.get('login')!.checks.add(new interactionPolicy.Check(
    'mfa_acr_requested', 'Multi-factor authentication is required', 'login_required',
    (ctx: any) => requestsMfaAcr(ctx.oidc.params?.acr_values) && ctx.oidc.session.acr !== MFA_ACR,
  ));
  return policy;
}
