/**
 * oidc-provider's interaction policy with one more reason to ask for a sign-in: the browser's
 * session names an account that `findAccount` no longer gives (disabled, removed, or signed
 * out everywhere). oidc-provider only asks "is there a session?", then builds the grant for
 * the missing account and fails with a server error on every authorization request of that
 * browser until the session cookie expires; now it shows the sign-in page (`login_required`
 * for `prompt=none`), where the same or another user can sign in.
 */
import { interactionPolicy } from 'oidc-provider';

export function createInteractionPolicy(): unknown {
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(new interactionPolicy.Check(
    'account_unavailable', 'End-User authentication is required', 'login_required',
    (ctx: any) => Boolean(ctx.oidc.session.accountId) && !ctx.oidc.account,
  ), 0);
  return policy;
}
