/**
 * Secure mail's most destructive operation — an administrator purging a compromised or
 * departed account's mailbox (POST /api/admin/purge, route mail-admin) — through the real
 * Gatehouse as `npm start` runs it, over HTTP without a browser: the real sign-in pages of
 * Gatehouse's own IdP (mail admins enrol TOTP at their first ordinary sign-in, which is no second
 * factor; the step-up login asks for its code and never enrols), step-up, policy and two-person
 * approval, then crypto-shredding in the services. Demo users: alice and bob write mail; carol
 * and dave are mail admins.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { generate } from 'otplib';
import { Agent, request } from 'undici';
import { Browser, formAction, inputValue } from '../identity/support/browser.ts';
import { startDemo, type RunningDemo } from './secure-mail-support/demo.ts';
import { browserFetchVia } from '../authn/support/browser-fetch.ts';

const NAVIGATE = { 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'none', accept: 'text/html' };

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: any }

describe('secure mail: purging a mailbox needs a fresh second factor and a second admin', { timeout: 300_000 }, () => {
  let demo: RunningDemo;
  let PUBLIC = '';
  let dispatcher: Agent;
  const sessions: Record<string, Browser> = {};
  const mfaSessions: Record<string, Browser> = {};
  let toBob = '';
  let fromBob = '';
  let approvalId = '';
  const purgeBody = JSON.stringify({ username: 'bob' });

  const browserFetch = browserFetchVia(() => dispatcher);

  /** TOTP secret of each mail admin (enrolled at the first sign-in) and the last time step used. */
  const totp: Record<string, { secret: string; step: number }> = {};
  const timeStep = () => Math.floor(Date.now() / 30_000);

  /** The authenticator's code once its time step is newer than the last one used (a used step is a replay). */
  async function nextCode(username: string): Promise<string> {
    const t = totp[username]!;
    while (timeStep() <= t.step) await new Promise((resolve) => setTimeout(resolve, (t.step + 1) * 30_000 - Date.now() + 50));
    t.step = timeStep();
    return generate({ secret: t.secret });
  }

  /** Starts a login (a step-up one with `stepUp`: prompt=login, acr urn:gatehouse:mfa) and submits the password. */
  async function password(browser: Browser, username: string, stepUp: boolean) {
    const start = await browser.request(`${PUBLIC}/_gatehouse/auth/login?return_to=%2F${stepUp ? '&step_up=mfa' : ''}`, { headers: NAVIGATE });
    let next = await browser.request(start.location!, { headers: NAVIGATE });
    for (let hops = 0; next.location && hops < 5; hops++) next = await browser.request(next.location, { headers: NAVIGATE });
    assert.equal(next.status, 200, `login page: ${next.body.slice(0, 200)}`);
    return browser.request(new URL(formAction(next.body, 'login')!, PUBLIC), { form: { csrf: inputValue(next.body, 'csrf')!, username, password: demo.passwords[username]! }, headers: { 'sec-fetch-site': 'same-origin', origin: PUBLIC } });
  }

  /**
   * Signs `username` in through the IdP's own pages. A mail admin's first sign-in enrols TOTP
   * (identity.mfa.requiredForRoles: [mail-admin]) and is a password sign-in all the same. With
   * `stepUp`, the login Gatehouse starts for a step-up: the password, then the TOTP code.
   */
  async function logIn(username: string, stepUp: boolean): Promise<Browser> {
    const browser = new Browser(browserFetch);
    let next = await password(browser, username, stepUp);
    const secret = /data-totp-secret="([A-Z2-7]+)"/.exec(next.body)?.[1];
    if (secret) {
      assert.ok(!stepUp, 'a step-up login never enrols');
      const code = await generate({ secret });
      totp[username] = { secret, step: timeStep() };
      const codes = await browser.request(new URL(formAction(next.body, 'enroll')!, PUBLIC), { form: { csrf: inputValue(next.body, 'csrf')!, code } });
      assert.equal(codes.status, 200, codes.body.slice(0, 300));
      next = await browser.request(new URL(formAction(codes.body, 'continue')!, PUBLIC), { form: { csrf: inputValue(codes.body, 'csrf')! } });
    } else if (stepUp) {
      assert.ok(formAction(next.body, 'mfa'), `the TOTP page: ${next.status} ${next.body.slice(0, 300)}`);
      next = await browser.request(new URL(formAction(next.body, 'mfa')!, PUBLIC), { form: { csrf: inputValue(next.body, 'csrf')!, code: await nextCode(username) } });
    }
    for (let hops = 0; next.location && !next.location.startsWith(`${PUBLIC}/_gatehouse/auth/callback?`) && hops < 8; hops++) next = await browser.request(next.location, { headers: NAVIGATE });
    assert.ok(next.location?.startsWith(`${PUBLIC}/_gatehouse/auth/callback?`), `reached the callback: ${next.status} ${next.location} ${next.body.slice(0, 300)}`);
    assert.equal((await browser.request(next.location!, { headers: NAVIGATE })).status, 303);
    return browser;
  }

  /** A JSON request with the browser's session cookie, as the web page's script sends it. */
  async function call(browser: Browser, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
    const cookie = [...browser.cookies].map(([name, c]) => `${name}=${c.value}`).join('; ');
    const res = await request(PUBLIC + path, {
      method: method as 'GET', dispatcher,
      headers: { cookie, 'sec-fetch-site': 'same-origin', origin: PUBLIC, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body ?? null,
    });
    const text = await res.body.text();
    let parsed: unknown = text;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.statusCode, headers: res.headers, body: parsed };
  }

  const code = (a: Answer) => (a.body as { error?: { code?: string } }).error?.code;
  const purge = (who: Browser, headers: Record<string, string> = {}) => call(who, 'POST', '/api/admin/purge', purgeBody, headers);

  before(async () => {
    demo = await startDemo();
    PUBLIC = demo.url.replace(/\/$/, '');
    dispatcher = new Agent({ connect: { ca: await readFile(join(demo.dataDir, 'gatehouse', 'tls', 'localhost.crt'), 'utf8') } });
    for (const u of ['alice', 'bob', 'carol', 'dave']) sessions[u] = await logIn(u, false);
    assert.deepEqual(Object.keys(totp).sort(), ['carol', 'dave'], 'the mail admins enrolled at their first sign-in, the mail users did not');
    const send = (from: string, to: string) => call(sessions[from]!, 'POST', '/api/mail/messages', JSON.stringify({ to: [to], subject: `from ${from}`, body: `secret of ${from}`, lifetimeSeconds: 3600, readOnce: false }));
    const a = await send('alice', 'bob');
    assert.equal(a.status, 201, JSON.stringify(a.body));
    toBob = (a.body as { id: string }).id;
    const b = await send('bob', 'alice');
    assert.equal(b.status, 201, JSON.stringify(b.body));
    fromBob = (b.body as { id: string }).id;
  });
  after(async () => { await dispatcher?.close(); await demo?.close(); });

  it('an admin session without a recent second factor (a stolen password-only session, here the one whose sign-in enrolled TOTP) cannot purge: 401 ERR_AUTHN_STEP_UP_REQUIRED with the RFC 9470 challenge, nothing held', async () => {
    const r = await purge(sessions.carol!);
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.equal(code(r), 'ERR_AUTHN_STEP_UP_REQUIRED');
    assert.match(String(r.headers['www-authenticate']), /error="insufficient_user_authentication".*max_age=300/);
    assert.equal(r.headers['gatehouse-approval'], undefined);
  });

  it('a mail user without TOTP cannot make a second factor up at the step-up login (attack: enrol an authenticator with only the password): 403 ERR_IDENTITY_MFA_NOT_ENROLLED, and the purge stays 401 with nothing held', async () => {
    const browser = sessions.bob!;
    const refused = await password(browser, 'bob', true);
    assert.equal(refused.status, 403, refused.body.slice(0, 300));
    assert.match(refused.body, /ERR_IDENTITY_MFA_NOT_ENROLLED/);
    assert.doesNotMatch(refused.body, /data-totp-secret/);
    const r = await purge(browser);
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.equal(code(r), 'ERR_AUTHN_STEP_UP_REQUIRED');
    assert.equal(r.headers['gatehouse-approval'], undefined);
  });

  it('an admin after a TOTP login is not let through alone: the purge is held (403 ERR_APPROVAL_PENDING with an approval id) and nothing is purged', async () => {
    mfaSessions.carol = await logIn('carol', true);
    const r = await purge(mfaSessions.carol);
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(code(r), 'ERR_APPROVAL_PENDING');
    approvalId = (r.body as { error: { approvalId: string } }).error.approvalId;
    assert.match(approvalId, /^apv_/);
    assert.equal(r.headers['gatehouse-approval'], approvalId);
    const inbox = await call(sessions.bob!, 'GET', '/api/mail/mailboxes/bob/inbox');
    assert.deepEqual((inbox.body as { messages: { id: string }[] }).messages.map((m) => m.id), [toBob]);
  });

  it('the requesting admin cannot approve her own purge (403 ERR_APPROVAL_SELF)', async () => {
    const r = await call(mfaSessions.carol!, 'POST', `/_gatehouse/approvals/${approvalId}/approve`);
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(code(r), 'ERR_APPROVAL_SELF');
  });

  it('a mail user may not see a purge request (403 ERR_APPROVAL_NOT_APPROVER) nor decide it (401 ERR_AUTHN_STEP_UP_REQUIRED: he has no second factor to show)', async () => {
    const view = await call(sessions.bob!, 'GET', `/_gatehouse/approvals/${approvalId}`);
    assert.equal(view.status, 403, JSON.stringify(view.body));
    assert.equal(code(view), 'ERR_APPROVAL_NOT_APPROVER');
    const r = await call(sessions.bob!, 'POST', `/_gatehouse/approvals/${approvalId}/approve`);
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.equal(code(r), 'ERR_AUTHN_STEP_UP_REQUIRED');
  });

  it('a second admin on a password-only session cannot approve (401 ERR_AUTHN_STEP_UP_REQUIRED: deciding needs the route\'s fresh second factor too)', async () => {
    const r = await call(sessions.dave!, 'POST', `/_gatehouse/approvals/${approvalId}/approve`);
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.equal(code(r), 'ERR_AUTHN_STEP_UP_REQUIRED');
  });

  it('the approved purge cannot be moved onto another user (ERR_APPROVAL_MISMATCH); repeated as approved by the requester, it crypto-shreds every message of the user: none is readable afterwards', async () => {
    mfaSessions.dave = await logIn('dave', true);
    const approve = await call(mfaSessions.dave, 'POST', `/_gatehouse/approvals/${approvalId}/approve`);
    assert.equal(approve.status, 200, JSON.stringify(approve.body));
    // Laundering the approval of bob's purge onto alice's mailbox is refused and does not spend it.
    const other = await call(mfaSessions.carol!, 'POST', '/api/admin/purge', JSON.stringify({ username: 'alice' }), { 'gatehouse-approval': approvalId });
    assert.equal(other.status, 403, JSON.stringify(other.body));
    assert.equal(code(other), 'ERR_APPROVAL_MISMATCH');
    const r = await purge(mfaSessions.carol!, { 'gatehouse-approval': approvalId });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { username: 'bob', purged: 2, retrying: 0 });
    // Both messages bob took part in are gone for everybody: the one he received and the one he sent.
    const inbox = await call(sessions.bob!, 'GET', '/api/mail/mailboxes/bob/inbox');
    assert.deepEqual((inbox.body as { messages: unknown[] }).messages, []);
    for (const [who, id] of [['bob', toBob], ['alice', fromBob]] as const) {
      const read = await call(sessions[who]!, 'POST', `/api/mail/messages/${id}/read`);
      assert.equal(read.status, 410, JSON.stringify(read.body));
      assert.equal(code(read), 'MAIL_GONE');
    }
    // Shredded, not just hidden: the lifetime service destroyed each key and had the message deleted,
    // and the messages service recorded the purge with its approval and approver.
    const audit = (service: string, file: string) => {
      const db = new DatabaseSync(join(demo.dataDir, 'services', service, 'data', file), { readOnly: true });
      try { return db.prepare('SELECT action, outcome, actor, message_id AS messageId, reason FROM audit_events').all() as { action: string; outcome: string; actor: string; messageId: string | null; reason: string | null }[]; } finally { db.close(); }
    };
    const shredded = audit('lifetime', 'lifetime.db').filter((e) => e.action === 'message.shred' && e.outcome === 'allowed').map((e) => e.messageId);
    assert.deepEqual([toBob, fromBob].filter((id) => !shredded.includes(id)), []);
    const purges = audit('messages', 'metadata.db').filter((e) => e.action === 'mailbox.purge');
    assert.equal(purges.length, 1);
    assert.match(purges[0]!.reason!, new RegExp(`^user=bob messages=2 approval=${approvalId}; approver=\\S+$`));
  });

  it('replaying the used approval is refused (403 ERR_APPROVAL_USED)', async () => {
    const r = await purge(mfaSessions.carol!, { 'gatehouse-approval': approvalId });
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(code(r), 'ERR_APPROVAL_USED');
  });
});
