/**
 * The federated sign-in that the fake-provider suites drive: a relying party starts an
 * authorization at Gatehouse, the browser picks the external provider, and the test plays the
 * provider's side (its authorization endpoint is never served): it answers the code exchange with
 * an ID token it makes, and brings the browser back to Gatehouse's redirect URI.
 */
import type * as oidc from 'openid-client';
import { SignJWT, type CryptoKey } from 'jose';
import type { Harness } from './harness.ts';
import { startAuth } from './flows.ts';
import { formAction, inputValue } from './browser.ts';
import type { FakeOp } from './fake-op.ts';

/** Gatehouse's client id at the fake providers. */
export const FAKE_CLIENT_ID = 'gatehouse-at-ext';

/** `identity.federation.<name>` of a fake provider: just-in-time users of example.com. */
export function fakeProviderConfig(issuer: string, extra: Record<string, unknown> = {}) {
  return { issuer, clientId: FAKE_CLIENT_ID, clientSecret: 'ext-secret', provisioning: 'jit' as const, allowedEmailDomains: ['example.com'], scopes: ['openid', 'email'], ...extra };
}

export interface FakeSignIn {
  /** Provider name in Gatehouse's config (default `ext`). */
  provider?: string;
  /** ID token claims besides `nonce` and `auth_time`; `sub`, `iss` and `aud` here replace the defaults. */
  claims?: Record<string, unknown> | ((nonce: string) => Record<string, unknown>);
  /** Default subject (default `ext-user-1`). */
  sub?: string;
  /** Signing key (default: the provider's) and its `kid` (default `op-1`). */
  key?: CryptoKey;
  kid?: string;
  /** Fields added to the token response. */
  tokenBody?: Record<string, unknown>;
}

/** Runs the sign-in through `op`; returns Gatehouse's last answer (its redirect to the client, or its error page). */
export async function federatedSignIn(h: Harness, config: oidc.Configuration, op: FakeOp, s: FakeSignIn = {}) {
  const start = await startAuth(h, config);
  const go = await start.browser.request(new URL(formAction(start.loginPage, `federated/${s.provider ?? 'ext'}`)!, h.origin), { form: { csrf: inputValue(start.loginPage, 'csrf')! } });
  // Refused before the browser was sent to the provider.
  if (!go.location) return go;
  const request = new URL(go.location);
  const nonce = request.searchParams.get('nonce')!;
  op.tokenResponse = async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = typeof s.claims === 'function' ? s.claims(nonce) : s.claims ?? {};
    // auth_time: startAuth asks for prompt=login, which the provider must show it honoured.
    const idToken = await new SignJWT({ nonce, auth_time: now, ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: s.kid ?? 'op-1' })
      .setIssuer((claims.iss as string | undefined) ?? op.issuer).setAudience((claims.aud as string | undefined) ?? FAKE_CLIENT_ID)
      .setSubject((claims.sub as string | undefined) ?? s.sub ?? 'ext-user-1').setIssuedAt(now).setExpirationTime(now + 300)
      .sign(s.key ?? op.key);
    return { status: 200, body: { access_token: 'at-1', token_type: 'Bearer', expires_in: 300, id_token: idToken, ...s.tokenBody } };
  };
  const callback = new URL(request.searchParams.get('redirect_uri')!);
  callback.search = new URLSearchParams({ code: 'code-1', state: request.searchParams.get('state')! }).toString();
  let r = await start.browser.request(callback);
  for (let hops = 0; r.location?.startsWith(h.origin) && hops < 4; hops++) r = await start.browser.request(r.location);
  return r;
}
