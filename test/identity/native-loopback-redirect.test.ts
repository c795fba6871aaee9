/**
 * Native apps receive the authorization response on a loopback listener whose port the
 * operating system picks at each run (RFC 8252 §7.3): a native client's registered
 * `http://127.0.0.1/…` redirect URI matches any port, and nothing else about it may differ.
 * Web clients keep exact matching, loopback or not. openid-client is the app; the loopback
 * listener is a real HTTP server on an ephemeral port.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { startHarness, type Harness } from './support/harness.ts';
import { PASSWORD } from './support/flows.ts';
import { Browser, formAction, inputValue } from './support/browser.ts';

describe('loopback redirect URIs of native apps', () => {
  let h: Harness;
  let loopback: Server;
  let port: number;
  const received: URL[] = [];

  before(async () => {
    h = await startHarness('sqlite');
    await h.idp.accounts.addUser({ username: 'nora', password: PASSWORD });
    await h.idp.accounts.addClient({ clientId: 'desktop', kind: 'app', applicationType: 'native', authMethod: 'none', redirectUris: ['http://127.0.0.1/callback'] });
    await h.idp.accounts.addClient({ clientId: 'devweb', kind: 'app', redirectUris: ['http://127.0.0.1:8080/cb'] });
    loopback = createServer((req, res) => { received.push(new URL(req.url ?? '/', `http://127.0.0.1:${port}`)); res.end('you may close this window'); });
    await new Promise<void>((resolve) => loopback.listen(0, '127.0.0.1', resolve));
    port = (loopback.address() as AddressInfo).port;
  });
  after(async () => {
    loopback?.closeAllConnections();
    await new Promise<void>((resolve) => loopback?.close(() => resolve()));
    await h?.close();
  });

  const discover = (clientId: string) => oidc.discovery(new URL(h.origin), clientId, undefined, oidc.None(), { [oidc.customFetch]: h.fetch as oidc.CustomFetch });

  /** The first answer of the authorization endpoint for `redirectUri`. */
  async function authorize(config: oidc.Configuration, redirectUri: string, browser = new Browser(h.fetch)) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri, scope: 'openid', state, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    return { browser, verifier, state, first: await browser.request(url) };
  }

  it('accepts the registered loopback URI on the port the app listens on this time, and the code is redeemed there', async () => {
    const config = await discover('desktop');
    const redirectUri = `http://127.0.0.1:${port}/callback`;
    const { browser, verifier, state, first } = await authorize(config, redirectUri);
    assert.equal(first.status, 303);
    const page = await browser.request(first.location!);
    let r = await browser.request(new URL(formAction(page.body, 'login')!, h.origin), { form: { csrf: inputValue(page.body, 'csrf')!, username: 'nora', password: PASSWORD } });
    let hops = 0;
    while (r.location && r.location.startsWith(h.origin) && hops++ < 8) r = await browser.request(r.location);
    assert.ok(r.location?.startsWith(`${redirectUri}?`), r.location);
    await browser.request(r.location!);
    const callback = received.at(-1)!;
    assert.equal(callback.pathname, '/callback');
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: true });
    assert.ok(tokens.claims()?.sub);
  });

  for (const [what, uri] of [
    ['another path', (p: number) => `http://127.0.0.1:${p}/callback/other`],
    ['a query added', (p: number) => `http://127.0.0.1:${p}/callback?next=x`],
    ['another host (localhost for 127.0.0.1)', (p: number) => `http://localhost:${p}/callback`],
    ['a host that only begins like the loopback address', (p: number) => `http://127.0.0.1.evil.example:${p}/callback`],
    ['user info in the authority', (p: number) => `http://evil@127.0.0.1:${p}/callback`],
    ['https instead of http', (p: number) => `https://127.0.0.1:${p}/callback`],
  ] as const) {
    it(`refuses a native app's loopback redirect URI with ${what} (no redirect)`, async () => {
      const { first } = await authorize(await discover('desktop'), uri(port));
      assert.equal(first.status, 400);
      assert.equal(first.location, undefined);
    });
  }

  it('keeps exact matching, port included, for a web client registered with a loopback URI', async () => {
    const config = await oidc.discovery(new URL(h.origin), 'devweb', 'unused', undefined, { [oidc.customFetch]: h.fetch as oidc.CustomFetch });
    assert.equal((await authorize(config, 'http://127.0.0.1:8080/cb')).first.status, 303);
    const other = (await authorize(config, 'http://127.0.0.1:9090/cb')).first;
    assert.equal(other.status, 400);
    assert.equal(other.location, undefined);
  });

  it('refuses to register a native app with an https loopback or a non-loopback http redirect URI', async () => {
    await assert.rejects(h.idp.accounts.addClient({ clientId: 'native-bad', kind: 'app', applicationType: 'native', authMethod: 'none', redirectUris: ['https://127.0.0.1/cb'] }), { code: 'ERR_IDENTITY_INPUT_INVALID' });
    await assert.rejects(h.idp.accounts.addClient({ clientId: 'native-bad', kind: 'app', applicationType: 'native', authMethod: 'none', redirectUris: ['http://app.example/cb'] }), { code: 'ERR_IDENTITY_INPUT_INVALID' });
  });
});
