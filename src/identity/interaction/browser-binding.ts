/**
 * Binds each interaction to the browser that started it, with a `__Host-` cookie.
 *
 * oidc-provider's interaction and resume cookies are path-scoped, so they can only be
 * `__Secure-`, and a hostile sibling subdomain on HTTPS can set those for this host
 * (`Domain=.<site>`). An attacker who signs in with their own account, stops before the final
 * redirect and plants their pair in the victim's browser would have the victim finish the
 * attacker's sign-in and receive the attacker's IdP session (login CSRF by cookie tossing).
 * Browsers take a `__Host-` cookie only from this host, so the attacker cannot plant the
 * value their interaction is bound to, and the victim's own value does not match it.
 *
 * One value per browser (reused by every interaction it starts, so sign-ins in several tabs
 * keep working); the store keeps its SHA-256 per interaction uid.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KvRepo } from '../../store/repos/kv-repo.ts';
import { IDP_BROWSER_COOKIE } from '../oidc/cookie-names.ts';

const BINDING_NS = 'identity:interaction-browser';
/** 256 random bits, base64url. */
const VALUE = /^[A-Za-z0-9_-]{43}$/;

const digest = (value: string): string => createHash('sha256').update(value).digest('base64url');

/** The browser's binding value from a Cookie header (the first well-formed one), if any. */
export function browserValue(cookieHeader: string | undefined): string | undefined {
  for (const part of (cookieHeader ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== IDP_BROWSER_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    if (VALUE.test(value)) return value;
  }
  return undefined;
}

/**
 * The outcome of a binding check. Refusals: `no_cookie` (the browser has no binding value: a
 * browser that never started a sign-in here, such as a victim sent to an attacker's planted
 * sign-in), `not_bound` (no binding stored for the interaction: expired, or begun before the
 * upgrade that added it), `other_browser` (the browser has a value, not the one the interaction
 * is bound to).
 */
export type BindingCheck = 'match' | 'no_cookie' | 'not_bound' | 'other_browser';

export class BrowserBinding {
  readonly #kv: KvRepo;
  readonly #ttlSeconds: number;

  /** `ttlSeconds`: the interaction lifetime (identity.ttl.interaction). */
  constructor(kv: KvRepo, ttlSeconds: number) {
    this.#kv = kv;
    this.#ttlSeconds = ttlSeconds;
  }

  /**
   * Binds interaction `uid` to the browser that sent `cookieHeader`, giving it a value first
   * if it has none. Returns the Set-Cookie value to send (the expiry moves with every
   * interaction, so it outlives each one the browser started).
   */
  async bind(uid: string, cookieHeader: string | undefined): Promise<string> {
    const value = browserValue(cookieHeader) ?? randomBytes(32).toString('base64url');
    await this.#kv.upsert(BINDING_NS, uid, { browser: digest(value) }, this.#ttlSeconds);
    return `${IDP_BROWSER_COOKIE}=${value}; Max-Age=${this.#ttlSeconds}; Path=/; Secure; HttpOnly; SameSite=Lax`;
  }

  /**
   * Whether interaction `uid` was started by the browser that sent `cookieHeader`: `match`, or why
   * not. Fails closed: no binding stored is no match.
   */
  async check(uid: string, cookieHeader: string | undefined): Promise<BindingCheck> {
    const value = browserValue(cookieHeader);
    if (!value) return 'no_cookie';
    const record = await this.#kv.find(BINDING_NS, uid);
    const stored = (record?.payload as { browser?: unknown } | undefined)?.browser;
    if (typeof stored !== 'string') return 'not_bound';
    const a = Buffer.from(stored);
    const b = Buffer.from(digest(value));
    return a.length === b.length && timingSafeEqual(a, b) ? 'match' : 'other_browser';
  }
}
