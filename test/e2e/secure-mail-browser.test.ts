/**
 * The secure mail demo in a real browser (Debian's Chromium driven by playwright-core),
 * against the whole system as `npm start` runs it: the supervisor, Gatehouse (browser login
 * at its own IdP, policy, assertions, mutual TLS to every service) and each service as its
 * own process. Screenshots go to $SECURE_MAIL_SCREENSHOTS when set (docs/secure-mail/).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_PATH, serviceOrSkip } from '../support/services.ts';
import { alive, startDemo, type RunningDemo } from './secure-mail-support/demo.ts';

// Callbacks passed to page.evaluate run in the page; this file is type-checked without the DOM library.
declare const document: { getElementById(id: string): any; querySelectorAll(s: string): Iterable<any>; activeElement: { id: string } | null };

const skip = await serviceOrSkip('chromium');
const SHOTS = process.env.SECURE_MAIL_SCREENSHOTS ? resolve(process.env.SECURE_MAIL_SCREENSHOTS) : undefined;

async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('secure mail in a real browser', { skip, timeout: 300_000 }, () => {
  let demo: RunningDemo;
  let browser: Browser;

  before(async () => {
    if (SHOTS) await mkdir(SHOTS, { recursive: true });
    demo = await startDemo({ minLifetimeSeconds: 5 });
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH, headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        // Playwright gives the browser a fresh, temporary user-data-dir of its own.
        '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    await browser?.close();
    await demo?.close();
  });

  const shot = async (page: Page, name: string) => { if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true }); };

  async function logIn(username: string, viewport = { width: 900, height: 640 }, screenshot?: string): Promise<Page> {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
    const page = await context.newPage();
    page.on('dialog', (d) => { void d.accept(); });
    await page.goto(demo.url);
    // Not logged in: Gatehouse sends the browser to its own IdP's login page.
    await page.locator('input[name="username"]').waitFor();
    assert.ok(new URL(page.url()).pathname.startsWith('/oidc/'), `login page at ${page.url()}`);
    await page.fill('input[name="username"]', username);
    await page.fill('input[name="password"]', demo.passwords[username]!);
    if (screenshot) await shot(page, screenshot);
    await page.click('button[type="submit"]');
    for (let i = 0; i < 3 && !page.url().startsWith(demo.url) ; i++) {
      const proceed = page.locator('button[type="submit"]', { hasText: /continue/i });
      if (await proceed.count()) await proceed.click();
      await page.waitForLoadState();
    }
    await page.waitForFunction((name) => document.getElementById('me')?.textContent === name, username);
    return page;
  }

  async function compose(page: Page, m: { to: string; subject: string; body: string; amount: string; unit: string; readOnce: boolean }, screenshot?: string) {
    await page.click('#tab-compose');
    await page.fill('#to', m.to);
    await page.fill('#subject', m.subject);
    await page.fill('#body', m.body);
    await page.fill('#lifetime', m.amount);
    await page.selectOption('#unit', { label: m.unit });
    if (m.readOnce) await page.check('#readOnce');
    if (screenshot) await shot(page, screenshot);
    const answer = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/mail/messages');
    await page.click('#send');
    const { id } = await (await answer).json() as { id: string };
    await page.waitForSelector(`#outbox-list li[data-id="${id}"]`);
    return id;
  }

  // Listed messages carry no subject (it is sealed with the text): they are told apart by id.
  const listed = (page: Page, box: 'inbox' | 'outbox') => page.$$eval(`#${box}-list li.message`, (els) => els.map((e) => e.getAttribute('data-id')));

  it('alice sends bob a read-once message; bob reads it once and it is gone for both; an unread one expires; the notice reached SMTP', async () => {
    const alice = await logIn('alice', undefined, 'login');
    // The page is served with a strict CSP and contains no inline script.
    const page = await alice.request.get(demo.url);
    assert.match(page.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    assert.doesNotMatch(await page.text(), /<script(?![^>]*\bsrc=)/);

    const launch = await compose(alice, { to: 'bob', subject: 'Launch codes', body: 'The cake is a lie.', amount: '10', unit: 'minutes', readOnce: true }, 'compose');
    const goneSoon = await compose(alice, { to: 'bob', subject: 'Gone soon', body: 'Read me within seconds.', amount: '12', unit: 'seconds', readOnce: false });
    await shot(alice, 'outbox');

    const bob = await logIn('bob', { width: 390, height: 700 });
    await until('both messages in bob\'s inbox', async () => (await listed(bob, 'inbox')).length === 2);
    await shot(bob, 'inbox-phone');
    // The subject is sealed with the text: no listing shows it, only the read.
    for (const page of [alice, bob]) assert.ok(!(await page.evaluate(() => document.getElementById('main').textContent as string)).includes('Launch codes'), 'a listing shows the subject');

    // Bob reads the read-once message.
    await bob.click(`#inbox-list li[data-id="${launch}"] button.open`);
    await bob.waitForSelector('#view-read:not([hidden])');
    assert.equal(await bob.textContent('#read-body'), 'The cake is a lie.');
    assert.match(await bob.textContent('#read-meta') ?? '', /Launch codes/);
    // The live region is filled a moment later on purpose (so screen readers announce it).
    await until('read-once notice in the status region', async () => /destroyed/.test(await bob.textContent('#status') ?? ''), 5_000);
    await shot(bob, 'read-phone');

    // Leaving it by the page's own link takes the text off the page, not only out of sight: the
    // server destroyed it, and a hidden copy stays readable (devtools, an extension, a script).
    await bob.click('#view-read a[href="#inbox"]');
    await bob.waitForSelector('#view-inbox:not([hidden])');
    assert.ok(!(await bob.evaluate(() => document.getElementById('main').textContent as string)).includes('The cake is a lie.'), 'the read-once text is still in the page');

    // Gone for both: bob's inbox and alice's outbox (as the server says, after a reload).
    await bob.goto(`${demo.url}#inbox`);
    await until('read-once message gone from bob\'s inbox', async () => !(await listed(bob, 'inbox')).includes(launch));
    await alice.goto(`${demo.url}#outbox`);
    await until('read-once message gone from alice\'s outbox', async () => {
      const list = await listed(alice, 'outbox');
      return list.includes(goneSoon) || list.length === 0 ? !list.includes(launch) : false;
    });
    const again = await bob.evaluate(async () => (await fetch('/api/mail/mailboxes/bob/inbox')).json() as Promise<{ messages: { id: string; subject?: string }[] }>);
    assert.ok(!again.messages.some((m) => m.id === launch));
    assert.ok(again.messages.every((m) => m.subject === undefined), 'the listing carries subjects');

    // Bob cannot open alice's outbox.
    const forbidden = await bob.evaluate(async () => {
      const r = await fetch('/api/mail/mailboxes/alice/outbox');
      return { status: r.status, body: await r.json() as { error: { code: string } } };
    });
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.body.error.code, 'MAIL_FORBIDDEN');

    // The unread message reaches its lifetime and disappears (the page drops it, the server too).
    await until('unread message expired in bob\'s inbox', async () => !(await listed(bob, 'inbox')).includes(goneSoon), 40_000);
    // The page hides a message when its countdown shows 0, up to a second before its exact
    // expiry; the server must never return one past its expiry, and drops it right after.
    const serverInbox = () => bob.evaluate(async () => {
      const asked = Date.now();
      const list = await (await fetch('/api/mail/mailboxes/bob/inbox')).json() as { messages: { expiresAt: string }[] };
      return { asked, messages: list.messages };
    });
    await until('expired message gone from the server\'s answer too', async () => {
      const { asked, messages } = await serverInbox();
      for (const m of messages) assert.ok(Date.parse(m.expiresAt) > asked, `server returned a message expired at ${m.expiresAt}`);
      return messages.length === 0;
    }, 10_000);

    // The notices reached the demo SMTP server, naming the sender but not the subject or text.
    const mails = await until('two notices to bob', async () => {
      const m = (await demo.mails()).filter((x) => x.to.includes('bob@secure-mail.test'));
      return m.length >= 2 ? m : undefined;
    });
    for (const m of mails) {
      assert.match(m.raw, /alice sent you a secure message/);
      assert.ok(!m.raw.includes('Launch codes') && !m.raw.includes('cake'), 'the notice leaks the message');
    }
  });

  it('keyboard: the compose form is reachable and labelled, the status is a live region', async () => {
    const alice = await logIn('alice', { width: 390, height: 700 });
    await alice.goto(`${demo.url}#compose`);
    await alice.waitForSelector('#view-compose:not([hidden])');
    for (const id of ['to', 'subject', 'body', 'lifetime', 'unit', 'readOnce']) {
      const label = await alice.evaluate((i) => (document.getElementById(i) as { labels?: { textContent: string | null }[] }).labels?.[0]?.textContent?.trim(), id);
      assert.ok(label, `#${id} has a label`);
    }
    assert.equal(await alice.getAttribute('#status', 'aria-live'), 'polite');
    // Sending an empty form by keyboard moves focus to the first problem and says why.
    await alice.focus('#send');
    await alice.keyboard.press('Enter');
    assert.equal(await alice.evaluate(() => document.activeElement?.id), 'to');
    assert.equal(await alice.getAttribute('#to', 'aria-invalid'), 'true');
    await shot(alice, 'compose-error-phone');
  });

  it('an opened message\'s text is removed from the screen when the message expires, though the page stays open on it', async () => {
    const alice = await logIn('alice');
    const brief = await compose(alice, { to: 'bob', subject: 'Brief', body: 'Visible only until my expiry.', amount: '15', unit: 'seconds', readOnce: false });
    const bob = await logIn('bob');
    await bob.goto(`${demo.url}#inbox`);
    await until('the message in bob\'s inbox', async () => (await listed(bob, 'inbox')).includes(brief));
    const expiresAt = await bob.evaluate(async (id) => {
      const list = await (await fetch('/api/mail/mailboxes/bob/inbox')).json() as { messages: { id: string; expiresAt: string }[] };
      return list.messages.find((m) => m.id === id)!.expiresAt;
    }, brief);
    await bob.click(`#inbox-list li[data-id="${brief}"] button.open`);
    await bob.waitForSelector('#view-read:not([hidden])');
    assert.equal(await bob.textContent('#read-body'), 'Visible only until my expiry.');
    assert.ok(Date.now() < Date.parse(expiresAt), 'opened before its expiry');
    await until('the text gone from bob\'s screen', async () => !(await bob.textContent('#read-body'))?.includes('Visible only'), Date.parse(expiresAt) - Date.now() + 5_000);
    // Gone at the expiry, not on some later refresh: within the page's one-second tick.
    assert.ok(Date.now() - Date.parse(expiresAt) < 1_500, `removed ${Date.now() - Date.parse(expiresAt)} ms after the expiry`);
    assert.ok(await bob.isVisible('#view-read'), 'the page stayed on the message view');
    assert.match(await bob.textContent('#read-body') ?? '', /expired/);
    assert.equal(await bob.textContent('#read-meta'), '');
    await until('the expiry announced', async () => /expired/.test(await bob.textContent('#status') ?? ''), 5_000);
  });

  it('Ctrl-C/SIGTERM stops the supervisor and every child process (no orphans)', async () => {
    const pids = Object.values(demo.pids);
    assert.ok(pids.every(alive), 'every child runs before the stop');
    assert.equal(await demo.stop(), 0);
    await until('every child gone', () => pids.every((p) => !alive(p)), 15_000);
  });
});
