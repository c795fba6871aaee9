/**
 * Storage contracts for browser sessions and pending logins. Implemented in memory here (single
 * process, tests) and in src/store on SQLite/PostgreSQL (shared by every instance).
 */

/** A server-side browser session. */
export interface GatewaySession {
  /** SHA-256 (base64url) of the cookie value: a copy of the store does not hand out cookies. */
  id: string;
  subject: string;
  /** Issuer of the login (Gatehouse's own IdP). */
  issuer: string;
  amr: string[];
  /** Epoch seconds of the login at the IdP. */
  authTime: number | undefined;
  /** Epoch milliseconds. */
  createdAt: number;
  lastSeenAt: number;
  /** Absolute end of the session, epoch milliseconds. */
  expiresAt: number;
}

export interface SessionStore {
  create(session: GatewaySession): Promise<void>;
  get(id: string): Promise<GatewaySession | undefined>;
  /** Records activity; resolves false when the session no longer exists. */
  touch(id: string, lastSeenAt: number): Promise<boolean>;
  delete(id: string): Promise<boolean>;
  /** Ends every session of a subject; resolves their ids. */
  deleteForSubject(subject: string): Promise<string[]>;
  /** Deletes sessions past their absolute end or idle longer than `idleTimeoutMs`. */
  prune(nowMs: number, idleTimeoutMs: number): Promise<number>;
}

/** What the login redirect must find again at the callback. */
export interface LoginState {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** Same-origin path (with query) to return to after login. */
  returnTo: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export interface LoginStateStore {
  put(id: string, login: LoginState): Promise<void>;
  /** Returns and deletes the entry (single use); undefined when absent or expired. */
  take(id: string, nowMs: number): Promise<LoginState | undefined>;
}
