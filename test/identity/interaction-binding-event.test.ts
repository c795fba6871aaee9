/**
 * A sign-in reached from another browser than the one that started it (cookies planted by a
 * sibling subdomain: login CSRF by cookie tossing) is refused with 403
 * ERR_IDENTITY_INTERACTION_BROWSER_MISMATCH. The refusal was only logged: an attack the IdP
 * stopped left no audit record and no event detection could count. It is now a typed event on
 * the bus (`identity.interaction.browser_mismatch`: client address, interaction id, reason,
 * never a cookie value) and, through a composed gateway, an audit record with outcome `denied`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as oidc from 'openid-client';
import { queryAudit } from '../../src/audit/query.ts';
import type { AuditRecord } from '../../src/audit/record.ts';
import { IDP_BROWSER_COOKIE, IDP_COOKIE_NAMES } from '../../src/identity/oidc/cookie-names.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { PASSWORD, REDIRECT, rpConfig, startAuth, submitLogin, type RpTarget } from './support/flows.ts';
import { Browser, formAction, inputValue } from './support/browser.ts';
import { startIdpGateway, type IdpGateway } from './support/gateway-idp.ts';

/** Plants the attacker's interaction and resume cookies (with their .sig) in the victim's browser, as a sibling subdomain could. */
function toss(from: Browser, to: Browser): string[] {
  const tossed = from.scopedCookies().filter((c) => c.name.startsWith(IDP_COOKIE_NAMES.interaction) || c.name.startsWith(IDP_COOKIE_NAMES.resume));
  assert.ok(tossed.length >= 2, 'the attacker holds interaction/resume cookies');
  for (const c of tossed) to.setScoped(c.name, c.value, c.path);
  return tossed.map((c) => c.value);
}

/**
 * Every cookie value either browser holds but the interaction id: none may appear in an event or
 * a record. (oidc-provider's interaction and resume cookies carry the uid itself, which is no
 * secret — it is in every URL of the sign-in; what makes them cookies is their `.sig`. The
 * binding value and the `.sig`s are what must never be published.)
 */
function cookieValues(uid: string, ...browsers: Browser[]): string[] {
  const values = browsers.flatMap((b) => [...b.scopedCookies().map((c) => c.value), ...[...b.cookies.values()].map((c) => c.value)]).filter((v) => v.length >= 8 && v !== uid);
  assert.ok(values.length >= 2, 'the browsers hold secret cookie values to look for');
  return values;
}

/** The attacker signs in as mallory and stops before the resume redirect. */
async function attackerSignedIn(h: RpTarget, config: oidc.Configuration) {
  const attacker = await startAuth(h, config);
  const r = await submitLogin(h, attacker, 'mallory', PASSWORD);
  assert.equal(r.status, 303);
  return { attacker, resume: r.location! };
}

describe('the browser-binding refusal as a security event', () => {
  let h: Harness;
  let config: oidc.Configuration;

  before(async () => {
    h = await startHarness('sqlite');
    await h.idp.accounts.addUser({ username: 'mallory', password: PASSWORD });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(() => h?.close());

  const mismatches = () => h.events.filter((e) => e.name === 'identity.interaction.browser_mismatch');

  it("an attacker's sign-in form posted from a victim's browser with planted interaction cookies is refused (403) and published as identity.interaction.browser_mismatch with the client address, interaction id, client and reason no_cookie — no cookie value", async () => {
    const attacker = await startAuth(h, config);
    const victim = new Browser(h.fetch);
    toss(attacker.browser, victim);
    const before = mismatches().length;
    const r = await victim.request(new URL(formAction(attacker.loginPage, 'login')!, h.origin), {
      form: { csrf: inputValue(attacker.loginPage, 'csrf')!, username: 'mallory', password: PASSWORD },
    });
    assert.equal(r.status, 403);
    const events = mismatches().slice(before);
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.deepEqual(events[0]!.payload, { interactionId: attacker.uid, clientAddress: '127.0.0.1', reason: 'no_cookie', step: 'interaction', clientId: 'webapp' });
    const text = JSON.stringify(events[0]);
    for (const value of cookieValues(attacker.uid, attacker.browser, victim)) assert.ok(!text.includes(value), 'no cookie value in the event');
  });

  it("the attacker's finished sign-in resumed from a victim's browser that has a binding of its own is refused (403) and published with step resume and reason other_browser", async () => {
    const victim = new Browser(h.fetch);
    await startAuth(h, config, undefined, victim);
    assert.ok(victim.cookies.get(IDP_BROWSER_COOKIE), 'the victim has a binding value');
    const { attacker, resume } = await attackerSignedIn(h, config);
    toss(attacker.browser, victim);
    const before = mismatches().length;
    const r = await victim.request(resume);
    assert.equal(r.status, 403);
    assert.match(r.body, /ERR_IDENTITY_INTERACTION_BROWSER_MISMATCH/);
    const events = mismatches().slice(before);
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.deepEqual(events[0]!.payload, { interactionId: attacker.uid, clientAddress: '127.0.0.1', reason: 'other_browser', step: 'resume' });
    const text = JSON.stringify(events[0]);
    for (const value of cookieValues(attacker.uid, attacker.browser, victim)) assert.ok(!text.includes(value), 'no cookie value in the event');
  });

  it('a sign-in that finishes in the browser that started it publishes no such event', async () => {
    const before = mismatches().length;
    const { attacker, resume } = await attackerSignedIn(h, config);
    const r = await attacker.browser.request(resume);
    assert.ok(r.status === 303 || r.status === 302, `${r.status}`);
    assert.equal(mismatches().length, before);
  });
});

describe('the browser-binding refusal in the audit log (composed gateway)', () => {
  let idp: IdpGateway;
  let config: oidc.Configuration;

  before(async () => {
    idp = await startIdpGateway();
    await idp.accounts.addUser({ username: 'mallory', password: PASSWORD });
    const app = await idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(idp, 'webapp', app.secret!);
  });
  after(() => idp?.close());

  it("a resume refused in a victim's browser (login CSRF by cookie tossing) is an audit record: action identity.interaction.browser_mismatch, outcome denied, the client address and interaction id, no cookie value", async () => {
    const { attacker, resume } = await attackerSignedIn(idp, config);
    const victim = new Browser(idp.fetch);
    toss(attacker.browser, victim);
    const r = await victim.request(resume);
    assert.equal(r.status, 403);
    let record: AuditRecord | undefined;
    for (const deadline = Date.now() + 10_000; !record && Date.now() < deadline; await new Promise((res) => setTimeout(res, 50))) {
      for await (const x of queryAudit(idp.store, { action: 'identity.interaction.browser_mismatch' })) record = x;
    }
    assert.ok(record, 'the refusal was recorded');
    assert.equal(record.outcome, 'denied');
    assert.equal(record.clientAddress, '127.0.0.1');
    const details = JSON.parse(record.details) as Record<string, unknown>;
    assert.equal(details.interactionId, attacker.uid);
    assert.equal(details.reason, 'no_cookie');
    assert.equal(details.step, 'resume');
    for (const value of cookieValues(attacker.uid, attacker.browser, victim)) assert.ok(!record.details.includes(value), 'no cookie value in the record');
  });
});
