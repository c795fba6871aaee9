/**
 * Server-side browser sessions. The cookie holds 256 random bits; the store holds only their
 * hash. A session ends at its absolute timeout, after `idleTimeoutMs` without use, on logout,
 * when an admin revokes it and when its principal is disabled — on every instance on the next
 * request (each instance drops its cached copy on the invalidation event).
 *
 * The hot path (`cached`) is synchronous: cookie hash, cache lookup, two time checks.
 * Activity is written to the store at most once per `touchIntervalMs`.
 */
import { hash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { GatehouseError } from '../../core/errors.ts';
import type { Identity } from '../../gateway/context.ts';
import { ExpiringLru } from '../lru-cache.ts';
import { requireEnabledPrincipal, signedOutSince } from '../principal.ts';
import { usedMfa } from '../mfa.ts';
import type { OnInvalidate, Principal, PrincipalLookup, PublishInvalidation } from '../types.ts';
import type { GatewaySession, SessionStore } from './session-store.ts';

export interface SessionManagerOptions {
  store: SessionStore;
  principals: PrincipalLookup;
  onInvalidate: OnInvalidate;
  publish: PublishInvalidation;
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  touchIntervalMs: number;
  maxCachedSessions: number;
  logger?: Logger | undefined;
  /** Clock in epoch milliseconds; replaceable so timeout tests need not wait. */
  now?: () => number;
}

interface CachedSession { session: GatewaySession; identity: Identity; persistedAt: number }

const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;

export class SessionManager {
  readonly #o: SessionManagerOptions;
  readonly #now: () => number;
  readonly #cache: ExpiringLru<CachedSession>;
  readonly #unsubscribe: () => void;
  /**
   * Counts invalidations. A verification during which one arrived caches nothing: it may have
   * read the principal before the change the event announces (a disabled user stayed in, with
   * the old roles, until the next activity write).
   */
  #generation = 0;

  constructor(options: SessionManagerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#cache = new ExpiringLru(options.maxCachedSessions);
    this.#unsubscribe = options.onInvalidate((event) => {
      if (event.type === 'session.revoked') {
        this.#generation++;
        this.#cache.delete(event.sessionId);
      } else if (event.type === 'sessions.revoked' || event.type === 'principal.changed') {
        this.#generation++;
        this.#cache.deleteWhere((e) => e.session.subject === event.subject);
      }
    });
  }

  get now(): number { return this.#now(); }

  /** The store id of a cookie value, or undefined when the value cannot be one of ours. */
  static sessionId(cookieValue: string): string | undefined {
    return COOKIE_VALUE.test(cookieValue) ? hash('sha256', cookieValue, 'base64url') : undefined;
  }

  /** Identity from the cache, or undefined when the store must be asked. Throws when the session has ended. */
  cached(id: string): Identity | undefined {
    const now = this.#now();
    const entry = this.#cache.get(id, now);
    if (entry === undefined) return undefined;
    // An idle-looking entry may have been used on another instance: let the store decide.
    if (now - entry.session.lastSeenAt >= this.#o.idleTimeoutMs) { this.#cache.delete(id); return undefined; }
    entry.session.lastSeenAt = now;
    if (now - entry.persistedAt >= this.#o.touchIntervalMs) {
      entry.persistedAt = now;
      void this.#recheck(id, entry, now);
    }
    return entry.identity;
  }

  /**
   * The activity write of a cached session, which also reads its principal again: the
   * `principal.changed` event that drops the entry can be lost (an instance disconnected from
   * the bus, a CLI that could not publish), and the principal was read only at the first
   * request here, so a user disabled elsewhere — or stripped of a role — stayed in, with the
   * old roles, for as long as the session was used. Now that lasts at most `touchIntervalMs`.
   * An unreachable store keeps the entry (logged), as a failed activity write always did.
   */
  async #recheck(id: string, entry: CachedSession, now: number): Promise<void> {
    try {
      if (!(await this.#o.store.touch(id, now))) { this.#cache.delete(id); return; }
      const principal = await this.#o.principals.getPrincipal(entry.session.subject);
      // Replaced or dropped meanwhile (an invalidation, a fresh authenticate): not ours to change.
      if (this.#cache.get(id, this.#now()) !== entry) return;
      if (principal === undefined || principal.disabled) { this.#cache.delete(id); return; }
      if (signedOutSince(principal, signedInAt(entry.session))) { this.#cache.delete(id); await this.#o.store.delete(id); return; }
      entry.identity = sessionIdentity(entry.session, principal);
    } catch (error) {
      this.#o.logger?.warn({ err: error }, 'session activity could not be recorded');
    }
  }

  /** Loads the session from the store, checks it and its principal, caches it. */
  async authenticate(id: string): Promise<Identity> {
    const generation = this.#generation;
    let session: GatewaySession | undefined;
    try {
      session = await this.#o.store.get(id);
    } catch (error) {
      throw new GatehouseError('ERR_AUTHN_UNAVAILABLE', { detail: 'session store unreachable', cause: error });
    }
    // Marked: a cookie no session answers to may be forged, and counts as a guess (refused-credential.ts).
    if (session === undefined) throw new GatehouseError('ERR_AUTHN_SESSION_INVALID', { detail: 'no such session', data: { unknownSession: true } });
    const now = this.#now();
    if (now >= session.expiresAt || now - session.lastSeenAt >= this.#o.idleTimeoutMs) {
      await this.#o.store.delete(id).catch(() => false);
      throw new GatehouseError('ERR_AUTHN_SESSION_EXPIRED', { detail: now >= session.expiresAt ? 'absolute timeout' : 'idle timeout', data: { subject: session.subject } });
    }
    const principal = await requireEnabledPrincipal(this.#o.principals, session.subject);
    if (signedOutSince(principal, signedInAt(session))) {
      // A password or MFA reset (or disabling) ended every sign-in before it: enabling the
      // user again does not bring this one back.
      await this.#o.store.delete(id).catch(() => false);
      throw new GatehouseError('ERR_AUTHN_SESSION_INVALID', { detail: `signed in before the sign-out everywhere at ${principal.signedOutAt} (credentials reset or user disabled)`, data: { subject: session.subject } });
    }
    session.lastSeenAt = now;
    const exists = await this.#o.store.touch(id, now).catch((error: unknown) => {
      throw new GatehouseError('ERR_AUTHN_UNAVAILABLE', { detail: 'session store unreachable', cause: error });
    });
    if (!exists) throw new GatehouseError('ERR_AUTHN_SESSION_INVALID', { detail: 'session ended meanwhile' });
    const identity = sessionIdentity(session, principal);
    if (generation === this.#generation) this.#cache.set(id, { session, identity, persistedAt: now }, session.expiresAt);
    return identity;
  }

  /**
   * Starts a new session for a principal who just logged in and returns the cookie value.
   * The caller ends any session the browser had before (rotation at login defeats fixation).
   */
  async create(principal: Principal, login: { issuer: string; amr: string[]; authTime: number | undefined }): Promise<{ cookieValue: string; session: GatewaySession }> {
    const cookieValue = randomBytes(32).toString('base64url');
    const now = this.#now();
    const session: GatewaySession = {
      id: hash('sha256', cookieValue, 'base64url'),
      subject: principal.subject,
      issuer: login.issuer,
      amr: [...login.amr],
      authTime: login.authTime,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.#o.absoluteTimeoutMs,
    };
    await this.#o.store.create(session);
    return { cookieValue, session };
  }

  /** Ends one session everywhere (logout, admin revoke). */
  async revoke(id: string): Promise<void> {
    this.#cache.delete(id);
    await this.#o.store.delete(id);
    await this.#o.publish({ type: 'session.revoked', sessionId: id });
  }

  /** Ends every session of a subject everywhere (admin, account disabled). */
  async revokeSubject(subject: string): Promise<number> {
    this.#cache.deleteWhere((e) => e.session.subject === subject);
    const ids = await this.#o.store.deleteForSubject(subject);
    await this.#o.publish({ type: 'sessions.revoked', subject });
    return ids.length;
  }

  /** Seconds until the absolute end of a session, for the cookie's Max-Age. */
  cookieMaxAgeSec(session: GatewaySession): number {
    return Math.floor((session.expiresAt - this.#now()) / 1000);
  }

  close(): void { this.#unsubscribe(); }
}

/** When the session's sign-in happened, in epoch seconds: at the IdP if known, else when the session began. */
function signedInAt(session: GatewaySession): number {
  return session.authTime ?? Math.floor(session.createdAt / 1000);
}

function sessionIdentity(session: GatewaySession, principal: Principal): Identity {
  return Object.freeze({
    subject: principal.subject,
    kind: principal.kind,
    roles: Object.freeze([...principal.roles]),
    method: 'session',
    amr: Object.freeze([...session.amr]),
    authTime: session.authTime,
    mfaTime: usedMfa(session.amr) ? session.authTime : undefined,
    credentialId: session.id,
    issuer: session.issuer,
    attributes: Object.freeze({ ...principal.attributes }),
    expiresAt: session.expiresAt,
  });
}
