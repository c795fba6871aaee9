/**
 * The mix-up attack on federation (RFC 9700 §4.4): one of the configured external providers
 * is hostile. When a user picks it, it sends the browser on to an honest provider with
 * Gatehouse's own authorization request for that provider (client id, redirect URI) but the
 * state Gatehouse made for the hostile one. The honest provider's code comes back with that
 * state; if Gatehouse then redeems it at the provider the state names, the hostile provider
 * receives the honest provider's code (and the PKCE verifier), which it can redeem through
 * its own sign-in at Gatehouse. The honest provider here sends no `iss` in its response (as
 * providers without RFC 9207 do, Google among them), so only the redirect URI can tell which
 * provider answered: each provider has its own, and a response must come back on the one of
 * the provider its state was made for.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as oidc from 'openid-client';
import { startHarness, type Harness } from './support/harness.ts';
import { PASSWORD, REDIRECT, rpConfig, startAuth } from './support/flows.ts';
import { formAction, inputValue } from './support/browser.ts';
import { startFakeOp, type FakeOp } from './support/fake-op.ts';

describe('federation: mix-up', () => {
  let honest: Harness;
  let rogue: FakeOp;
  let h: Harness;
  let config: oidc.Configuration;

  before(async () => {
    honest = await startHarness('sqlite');
    await honest.idp.accounts.addUser({ username: 'erin', email: 'erin@example.com', emailVerified: true, password: PASSWORD });
    rogue = await startFakeOp();
    h = await startHarness('sqlite', {
      federation: {
        corp: { issuer: honest.origin, clientId: 'gatehouse-a', clientSecretEnv: 'GH_TEST_MIXUP_SECRET', provisioning: 'jit', allowedEmailDomains: ['example.com'], scopes: ['openid', 'email'] },
        partner: { issuer: rogue.issuer, clientId: 'gatehouse-at-partner', clientSecret: 'partner-secret', scopes: ['openid', 'email'] },
      },
    });
    // Registered under the redirect URI of either layout, so that the attack is tried as it is.
    const rp = await honest.idp.accounts.addClient({ clientId: 'gatehouse-a', kind: 'app', redirectUris: [`${h.origin}/oidc/federation/callback`, `${h.origin}/oidc/federation/callback/corp`] });
    process.env.GH_TEST_MIXUP_SECRET = rp.secret!;
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(async () => { await h?.close(); await rogue?.close(); await honest?.close(); });

  /** Starts federated sign-in at `provider` in a fresh browser; returns the browser and the external authorization URL. */
  async function federate(provider: string) {
    const start = await startAuth(h, config);
    const go = await start.browser.request(new URL(formAction(start.loginPage, `federated/${provider}`)!, h.origin), { form: { csrf: inputValue(start.loginPage, 'csrf')! } });
    assert.equal(go.status, 303);
    return { browser: start.browser, target: new URL(go.location!) };
  }

  it("never sends an honest provider's code to the hostile provider whose state came back with it", async () => {
    // What the attacker learns by starting a sign-in at the honest provider itself.
    const corp = (await federate('corp')).target;
    // The victim picks the hostile provider; it redirects to the honest one with Gatehouse's request for it.
    const victim = await federate('partner');
    assert.ok(victim.target.href.startsWith(`${rogue.issuer}/auth?`));
    const mixed = new URL(corp.href);
    for (const name of ['state', 'nonce', 'code_challenge']) mixed.searchParams.set(name, victim.target.searchParams.get(name)!);

    // At the honest provider, in the victim's browser: the victim signs in there.
    const first = await victim.browser.request(mixed);
    const page = await victim.browser.request(first.location!);
    let r = await victim.browser.request(new URL(formAction(page.body, 'login')!, honest.origin), { form: { csrf: inputValue(page.body, 'csrf')!, username: 'erin', password: PASSWORD } });
    for (let hops = 0; r.location?.startsWith(honest.origin) && hops < 8; hops++) r = await victim.browser.request(r.location);
    const response = new URL(r.location!);
    assert.ok(response.href.startsWith(`${h.origin}/oidc/federation/callback`), response.href);
    assert.ok(response.searchParams.get('code'));
    response.searchParams.delete('iss');

    // Back at Gatehouse.
    let back = await victim.browser.request(response);
    for (let hops = 0; back.location?.startsWith(h.origin) && hops < 4; hops++) back = await victim.browser.request(back.location);
    assert.deepEqual(rogue.tokenRequests.map((b) => b.get('code')), [], 'the hostile provider received the code');
    assert.equal(back.status, 401);
    assert.match(back.body, /ERR_IDENTITY_FEDERATION_FAILED/);
    assert.equal(back.location, undefined, 'not signed in');
  });
});
