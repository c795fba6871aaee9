// Secure mail web client. Plain ES module, no build step, no dependencies. It uses only the
// documented mail API (/api/mail, docs/secure-mail.md) through Gatehouse, which adds the
// user's identity from the session cookie. Every text from the server is set with
// textContent, never parsed as HTML.

const $ = (id) => document.getElementById(id);
const API = '/api/mail';
const VIEWS = ['inbox', 'outbox', 'compose', 'read'];

let me = '';
let limits = { minLifetimeSeconds: 60, maxLifetimeSeconds: 7 * 86400 };
const boxes = { inbox: [], outbox: [] };
/** The opened message's expiry (ms) while its text is on screen; the text must not outlive it. */
let openedExpiresAt;
let openedTimer;

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body) {
  const init = { method, headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) { init.headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
  const res = await fetch(API + path, init);
  if (res.status === 401) {
    // The session ended (idle or absolute timeout, signed out elsewhere): log in again.
    location.assign('/');
    throw new ApiError(401, 'ERR_AUTHN_REQUIRED', 'Your session has ended; signing in again.');
  }
  const data = res.headers.get('content-type')?.includes('application/json') ? await res.json() : undefined;
  if (!res.ok) throw new ApiError(res.status, data?.error?.code ?? 'HTTP_' + res.status, data?.error?.message ?? 'Request failed');
  return data;
}

function announce(text) {
  // Clear first so that the same message twice is announced twice.
  const status = $('status');
  status.textContent = '';
  setTimeout(() => { status.textContent = text; }, 30);
}

function timeLeft(seconds) {
  if (seconds <= 0) return 'destroying now';
  const d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  if (d > 0) return `${d} d ${h} h left`;
  if (h > 0) return `${h} h ${m} min left`;
  if (m > 0) return `${m} min ${s} s left`;
  return `${s} s left`;
}

function secondsUntil(iso) { return Math.max(0, Math.floor((Date.parse(iso) - Date.now()) / 1000)); }

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('data-') || k.startsWith('aria-')) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) if (c !== undefined && c !== null) node.append(c);
  return node;
}

function sentAt(iso) {
  const d = new Date(iso);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}

// A listed message shows who, when and how long it has left, never its subject: the subject
// is sealed with the text under the message's key and comes only with a read (once, for a
// read-once message), so listing a mailbox reveals and consumes nothing of what was written.
function renderBox(box) {
  const list = $(`${box}-list`);
  const messages = boxes[box].filter((m) => secondsUntil(m.expiresAt) > 0);
  boxes[box] = messages;
  list.replaceChildren(...messages.map((m) => {
    const who = box === 'inbox' ? `From ${m.from}` : `To ${m.to.join(', ')}`;
    const badges = el('span', { class: 'badges' },
      m.readOnce ? el('span', { class: 'badge' }, 'read once') : null,
      box === 'outbox' && m.readBy?.length ? el('span', { class: 'badge' }, `read by ${m.readBy.join(', ')}`) : null);
    const left = el('span', { class: 'left', 'data-expires': m.expiresAt }, timeLeft(secondsUntil(m.expiresAt)));
    const sent = sentAt(m.createdAt);
    const item = el('li', { class: 'message', 'data-id': m.id },
      el('span', { class: 'who' }, who),
      el('span', { class: 'sent' }, `sent ${sent}`), badges, left);
    if (box === 'inbox') {
      item.append(el('button', { type: 'button', class: 'open', 'data-id': m.id, 'aria-label': `Read the message from ${m.from} sent ${sent}` }, 'Read'));
    }
    return item;
  }));
  $(`${box}-empty`).hidden = messages.length > 0;
  if (box === 'inbox') $('inbox-count').textContent = messages.length ? `(${messages.length})` : '';
}

async function load(box, { quiet = false } = {}) {
  try {
    const { messages } = await api('GET', `/mailboxes/${encodeURIComponent(me)}/${box}`);
    boxes[box] = messages;
    renderBox(box);
    if (!quiet) announce(`${box === 'inbox' ? 'Inbox' : 'Sent'}: ${messages.length} message${messages.length === 1 ? '' : 's'}.`);
  } catch (err) {
    if (!quiet) announce(`Could not load: ${err.message}`);
  }
}

function show(view) {
  // Leaving a message takes its text off the page, not only out of sight: a read-once
  // message is destroyed on the server, and a hidden copy would stay readable in the DOM.
  if (view !== 'read') dropOpened();
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  for (const t of ['inbox', 'outbox', 'compose']) {
    const tab = $(`tab-${t}`);
    if (t === view) tab.setAttribute('aria-current', 'page'); else tab.removeAttribute('aria-current');
  }
  const heading = $(`h-${view}`);
  heading.tabIndex = -1;
  heading.focus();
}

async function route() {
  const hash = location.hash.slice(1) || 'inbox';
  if (hash === 'inbox' || hash === 'outbox') { show(hash); await load(hash); return; }
  if (hash === 'compose') { show('compose'); $('to').focus(); return; }
  location.hash = '#inbox';
}

async function read(id) {
  const m = boxes.inbox.find((x) => x.id === id);
  if (m?.readOnce && !confirm('This message is destroyed as soon as you open it. Read it now?')) return;
  try {
    const msg = await api('POST', `/messages/${encodeURIComponent(id)}/read`);
    const meta = $('read-meta');
    meta.replaceChildren(
      el('dt', {}, 'From'), el('dd', {}, msg.from),
      el('dt', {}, 'To'), el('dd', {}, msg.to.join(', ')),
      el('dt', {}, 'Subject'), el('dd', {}, msg.subject),
      el('dt', {}, 'Destroyed'), el('dd', {}, msg.readOnce ? 'now that it has been read' : timeLeft(secondsUntil(msg.expiresAt)).replace(' left', ' from now')));
    $('read-body').textContent = msg.body;
    openedExpiresAt = Date.parse(msg.expiresAt);
    dropOpenedIfExpired();
    boxes.inbox = boxes.inbox.filter((x) => !(x.id === id && msg.readOnce));
    renderBox('inbox');
    show('read');
    announce(msg.readOnce ? 'Message opened. It has been destroyed on the server; this copy disappears when you leave it.' : 'Message opened.');
  } catch (err) {
    announce(err.code === 'MAIL_GONE' ? 'This message no longer exists.' : `Could not open the message: ${err.message}`);
    await load('inbox', { quiet: true });
  }
}

function dropOpened() {
  clearTimeout(openedTimer);
  openedExpiresAt = undefined;
  $('read-meta').replaceChildren();
  $('read-body').replaceChildren();
}

/**
 * Removes the opened message's text once its expiry has passed: the server destroys it then,
 * and the copy on screen must go with it. A timer for the exact moment (re-armed in steps, as
 * timers cannot wait longer than about 24 days), and tick() checks too in case timers were held
 * back (a background tab, a suspended laptop).
 */
function dropOpenedIfExpired() {
  clearTimeout(openedTimer);
  if (openedExpiresAt === undefined) return;
  const wait = openedExpiresAt - Date.now();
  if (wait > 0) { openedTimer = setTimeout(dropOpenedIfExpired, Math.min(wait, 2 ** 31 - 1)); return; }
  openedExpiresAt = undefined;
  $('read-meta').replaceChildren();
  $('read-body').replaceChildren(el('p', { class: 'expired' }, 'This message has expired and was destroyed.'));
  if (!$('view-read').hidden) announce('The message you were reading has expired and was removed from the screen.');
}

function lifetimeSeconds() {
  return Math.round(Number($('lifetime').value) * Number($('unit').value));
}

async function send(event) {
  event.preventDefault();
  const error = $('compose-error');
  error.hidden = true;
  const to = $('to').value.split(/[\s,;]+/).map((s) => s.trim().toLowerCase()).filter(Boolean);
  const subject = $('subject').value.trim();
  const body = $('body').value;
  const lifetime = lifetimeSeconds();
  const problems = [];
  if (!to.length) problems.push(['to', 'Name at least one recipient.']);
  if (!subject) problems.push(['subject', 'Write a subject.']);
  if (!body) problems.push(['body', 'Write a message.']);
  if (!Number.isFinite(lifetime) || lifetime < limits.minLifetimeSeconds || lifetime > limits.maxLifetimeSeconds) {
    problems.push(['lifetime', `Choose a lifetime between ${timeLeft(limits.minLifetimeSeconds).replace(' left', '')} and ${timeLeft(limits.maxLifetimeSeconds).replace(' left', '')}.`]);
  }
  for (const id of ['to', 'subject', 'body', 'lifetime']) $(id).removeAttribute('aria-invalid');
  if (problems.length) {
    for (const [id] of problems) $(id).setAttribute('aria-invalid', 'true');
    error.textContent = problems.map(([, text]) => text).join(' ');
    error.hidden = false;
    $(problems[0][0]).focus();
    announce(error.textContent);
    return;
  }
  const button = $('send');
  button.disabled = true;
  try {
    await api('POST', '/messages', { to, subject, body, lifetimeSeconds: lifetime, readOnce: $('readOnce').checked });
    $('compose').reset();
    announce(`Sent to ${to.join(', ')}.`);
    location.hash = '#outbox';
  } catch (err) {
    error.textContent = err.code === 'MAIL_RECIPIENT_UNKNOWN' ? 'One of the recipients does not exist.' : `Not sent: ${err.message}.`;
    error.hidden = false;
    announce(error.textContent);
  } finally {
    button.disabled = false;
  }
}

function tick() {
  dropOpenedIfExpired();
  for (const node of document.querySelectorAll('[data-expires]')) node.textContent = timeLeft(secondsUntil(node.dataset.expires));
  for (const box of ['inbox', 'outbox']) {
    if (boxes[box].some((m) => secondsUntil(m.expiresAt) === 0)) renderBox(box);
  }
}

async function start() {
  try {
    const who = await api('GET', '/me');
    me = who.username;
    if (who.limits) limits = who.limits;
  } catch (err) {
    announce(`Could not reach the mail service: ${err.message}`);
    return;
  }
  $('me').textContent = me;
  if (limits.minLifetimeSeconds < 60) {
    // Demo and test setups allow lifetimes under a minute.
    $('unit').prepend(el('option', { value: '1' }, 'seconds'));
  }
  $('inbox-list').addEventListener('click', (e) => {
    const button = e.target.closest('button.open');
    if (button) void read(button.dataset.id);
  });
  $('compose').addEventListener('submit', (e) => void send(e));
  window.addEventListener('hashchange', () => void route());
  setInterval(tick, 1000);
  // New mail and messages destroyed elsewhere show up without a reload.
  setInterval(() => {
    const view = location.hash.slice(1) || 'inbox';
    if (view === 'inbox' || view === 'outbox') void load(view, { quiet: true });
  }, 5000);
  await route();
}

void start();
