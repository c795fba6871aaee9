/** In-memory session and login-state stores (one process; tests). */
import type { GatewaySession, LoginState, LoginStateStore, SessionStore } from './session-store.ts';

export class MemorySessionStore implements SessionStore {
  readonly #sessions = new Map<string, GatewaySession>();
  async create(session: GatewaySession): Promise<void> { this.#sessions.set(session.id, { ...session, amr: [...session.amr] }); }
  async get(id: string): Promise<GatewaySession | undefined> {
    const s = this.#sessions.get(id);
    return s === undefined ? undefined : { ...s, amr: [...s.amr] };
  }
  async touch(id: string, lastSeenAt: number): Promise<boolean> {
    const s = this.#sessions.get(id);
    if (s === undefined) return false;
    s.lastSeenAt = Math.max(s.lastSeenAt, lastSeenAt);
    return true;
  }
  async delete(id: string): Promise<boolean> { return this.#sessions.delete(id); }
  async deleteForSubject(subject: string): Promise<string[]> {
    const ids = [...this.#sessions.values()].filter((s) => s.subject === subject).map((s) => s.id);
    for (const id of ids) this.#sessions.delete(id);
    return ids;
  }
  async prune(nowMs: number, idleTimeoutMs: number): Promise<number> {
    let n = 0;
    for (const [id, s] of this.#sessions) {
      if (s.expiresAt <= nowMs || s.lastSeenAt + idleTimeoutMs <= nowMs) { this.#sessions.delete(id); n++; }
    }
    return n;
  }
}

export class MemoryLoginStateStore implements LoginStateStore {
  readonly #logins = new Map<string, LoginState>();
  async put(id: string, login: LoginState): Promise<void> { this.#logins.set(id, { ...login }); }
  async take(id: string, nowMs: number): Promise<LoginState | undefined> {
    const login = this.#logins.get(id);
    this.#logins.delete(id);
    return login !== undefined && login.expiresAt > nowMs ? login : undefined;
  }
}
