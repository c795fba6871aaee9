/** Drives the sign-in flow the way a browser would, with openid-client as the relying party. */
import * as oidc from 'openid-client';
import { Browser, formAction, inputValue } from './browser.ts';
import type { Harness } from './harness.ts';

/** What the flows need of a provider: its origin and a fetch that trusts its certificate. */
export type RpTarget = Pick<Harness, 'origin' | 'fetch'>;

export const REDIRECT = 'https://app.example/cb';
export const PASSWORD = 'correct horse battery staple';

export async function rpConfig(h: RpTarget, clientId: string, secret: string): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(h.origin), clientId, secret, undefined, { [oidc.customFetch]: h.fetch as oidc.CustomFetch });
}

export interface AuthStart { browser: Browser; loginPage: string; uid: string; verifier: string; state: string; nonce: string }

/** `extra`: further authorization request parameters (e.g. `resource`). */
export async function startAuth(h: RpTarget, config: oidc.Configuration, scope = 'openid email offline_access', browser = new Browser(h.fetch), extra: Record<string, string> = {}): Promise<AuthStart> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT, scope, state, nonce, prompt: 'login consent',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
  });
  const first = await browser.request(url);
  if (first.status !== 303 || !first.location) throw new Error(`authorization did not redirect: ${first.status} ${first.body.slice(0, 200)}`);
  const page = await browser.request(first.location);
  const uid = new URL(first.location).pathname.split('/')[3]!;
  return { browser, loginPage: page.body, uid, verifier, state, nonce };
}

export async function submitLogin(h: RpTarget, start: AuthStart, username: string, password: string, csrf = inputValue(start.loginPage, 'csrf')!) {
  return start.browser.request(new URL(formAction(start.loginPage, 'login')!, h.origin), { form: { csrf, username, password } });
}

/** Follows same-origin redirects until the client's redirect URI is reached. */
export async function followToCallback(h: RpTarget, start: AuthStart, location: string | undefined): Promise<URL> {
  let hops = 0;
  while (location && location.startsWith(h.origin) && hops++ < 8) {
    const r = await start.browser.request(location);
    location = r.location;
  }
  if (!location || !location.startsWith(REDIRECT)) throw new Error(`did not reach the redirect URI: ${location}`);
  return new URL(location);
}

export async function loginAndExchange(h: RpTarget, config: oidc.Configuration, username: string, password = PASSWORD, scope?: string) {
  const start = await startAuth(h, config, scope);
  const r = await submitLogin(h, start, username, password);
  const callback = await followToCallback(h, start, r.location);
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  return { tokens, start, callback };
}
