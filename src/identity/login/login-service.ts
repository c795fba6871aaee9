/**
 * Password and second-factor checks with brute-force protection:
 * - per account: after `delayAfterFailures` consecutive failures each attempt is delayed
 *   (doubling up to `maxDelayMs`); at `lockAfterFailures` the account locks for `lockSeconds`;
 * - per client address: `addressLockAfterFailures` failures within `addressWindowSeconds`
 *   block the address for `lockSeconds`, whatever account it tries (an IPv6 client's
 *   address is its /64: it can pick another address of it for every attempt). Not its /48: the
 *   only action here is refusing sign-in, which for a /48 refuses many users; detection counts
 *   the prefix and alerts, blocking it only where opted into (docs/detection.md, IPv6 prefixes).
 * A wrong second factor counts like a wrong password, and a user with TOTP keeps the count
 * until the second factor succeeds: otherwise someone who knows the password could guess
 * 6-digit codes without limit, signing in with the password again whenever the count grew.
 * Attempts on one account (or one unknown name) run one after the other on an instance: the lock
 * is read when an attempt begins and counted when it has failed, so a burst of parallel guesses
 * would otherwise each read "not locked" and all be checked, far past `lockAfterFailures`.
 * Unknown users cost the same time as known ones, and every refusal looks the same to the client:
 * a name without an account is delayed and locked by its own count like an account
 * (unknown-names.ts), so repeated guesses do not tell which names exist either.
 */
import { GatehouseError } from '../../core/errors.ts';
import type { IdentityConfig } from '../../core/config/identity-schema.ts';
import type { IdentityThrottleRepo } from '../../store/repos/identity-throttle-repo.ts';
import type { KvRepo } from '../../store/repos/kv-repo.ts';
import type { IdentityUsersRepo, UserPatch, UserRecord } from '../../store/repos/identity-users-repo.ts';
import { needsRehash, hashPassword, verifyDummyPassword, verifyPassword } from '../accounts/passwords.ts';
import { generateRecoveryCode, hashSecret, normalizeRecoveryCode } from '../accounts/secrets.ts';
import { newTotpSecret, totpUri, verifyTotp } from '../accounts/totp.ts';
import type { IdentityEmit } from '../events.ts';
import type { KeySealer } from '../keys/key-sealer.ts';
import { clientNetwork } from '../../gateway/http/client-network.ts';
import { UnknownNames } from './unknown-names.ts';

export type PasswordOutcome =
  | { ok: true; user: UserRecord }
  | { ok: false; reason: 'bad_credentials' | 'locked' | 'address_blocked' };

export type SecondFactorOutcome = { ok: true } | { ok: false; reason: 'invalid' | 'locked' | 'address_blocked' };

export interface LoginServiceOptions {
  users: IdentityUsersRepo;
  throttle: IdentityThrottleRepo;
  /** Where failure counts of names without an account are kept. */
  kv: KvRepo;
  sealer: KeySealer;
  config: IdentityConfig;
  emit: IdentityEmit;
  /** Injected for tests; real time otherwise. */
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class LoginService {
  readonly #o: LoginServiceOptions;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #unknown: UnknownNames;
  /** Per account (or unknown name): the end of the attempts queued on this instance. */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(options: LoginServiceOptions) {
    this.#o = options;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#unknown = new UnknownNames(options.kv);
  }

  async checkPassword(identifier: string, password: string, clientAddress: string, clientId?: string): Promise<PasswordOutcome> {
    const { users, throttle, emit } = this.#o;
    const username = identifier.trim().toLowerCase().slice(0, 256);
    const base = { username, clientAddress, ...(clientId ? { clientId } : {}) };

    if (await throttle.blockedUntil(clientNetwork(clientAddress))) {
      emit('identity.login.failed', { ...base, reason: 'address_blocked' });
      return { ok: false, reason: 'address_blocked' };
    }
    const user = (await users.findByUsername(username)) ?? (username.includes('@') ? await users.findByEmail(username) : undefined);
    if (!user || !user.passwordHash) {
      emit('identity.login.failed', { ...base, ...(user ? { subject: user.id } : {}), reason: 'unknown_user' });
      return this.#oneAtATime(`name:${username}`, () => this.#unknownName(username, password, clientAddress));
    }
    return this.#oneAtATime(user.id, async () => {
      // Read again in turn: the attempts before this one may have locked the account.
      const current = await users.findById(user.id);
      return current?.passwordHash ? this.#checkAccountPassword({ ...current, passwordHash: current.passwordHash }, password, clientAddress, base) : this.#unknownName(username, password, clientAddress);
    });
  }

  /** Runs `attempt` after every earlier attempt queued under `key` on this instance has finished. */
  async #oneAtATime<T>(key: string, attempt: () => Promise<T>): Promise<T> {
    const run = (this.#queues.get(key) ?? Promise.resolve()).then(attempt);
    const tail = run.catch(() => undefined);
    this.#queues.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.#queues.get(key) === tail) this.#queues.delete(key);
    }
  }

  async #checkAccountPassword(user: UserRecord & { passwordHash: string }, password: string, clientAddress: string, base: { username: string; clientAddress: string; clientId?: string }): Promise<PasswordOutcome> {
    const { users, emit } = this.#o;
    const now = Date.now();
    if (user.lockedUntil !== undefined && user.lockedUntil > now) {
      // Still hash, so a locked account answers in the same time as any other.
      await verifyDummyPassword(password);
      await this.#addressFailure(clientAddress);
      emit('identity.login.failed', { ...base, subject: user.id, reason: 'locked' });
      return { ok: false, reason: 'locked' };
    }
    await this.#throttle(user, clientAddress);
    if (!(await verifyPassword(user.passwordHash, password))) {
      const locked = await this.#failure(user, clientAddress);
      emit('identity.login.failed', { ...base, subject: user.id, reason: 'bad_credentials' });
      return { ok: false, reason: locked ? 'locked' : 'bad_credentials' };
    }
    if (user.disabled) {
      emit('identity.login.failed', { ...base, subject: user.id, reason: 'disabled' });
      return { ok: false, reason: 'bad_credentials' };
    }
    // With TOTP the sign-in is not done yet: the count is cleared when the second factor succeeds.
    const patch: UserPatch = {
      ...(user.totpEnabled ? {} : { failedLogins: 0, lockedUntil: undefined }),
      ...(needsRehash(user.passwordHash) ? { passwordHash: await hashPassword(password) } : {}),
    };
    const changes = (patch.failedLogins === 0 && (user.failedLogins || user.lockedUntil !== undefined)) || 'passwordHash' in patch;
    const fresh = changes ? await users.update(user.id, patch) : user;
    return { ok: true, user: fresh ?? user };
  }

  /** The refusal of a name without an account (or password), step for step what an account with a wrong password gets. */
  async #unknownName(username: string, password: string, clientAddress: string): Promise<PasswordOutcome> {
    const { login } = this.#o.config;
    const state = await this.#unknown.get(username);
    if (state.lockedUntil !== undefined && state.lockedUntil > Date.now()) {
      await verifyDummyPassword(password);
      await this.#addressFailure(clientAddress);
      return { ok: false, reason: 'locked' };
    }
    await this.#sleep(this.#delayMs(state.failedLogins));
    await verifyDummyPassword(password);
    const { locked } = await this.#unknown.recordFailure(username, state, login.lockAfterFailures, Date.now() + login.lockSeconds * 1000);
    await this.#addressFailure(clientAddress);
    return { ok: false, reason: locked ? 'locked' : 'bad_credentials' };
  }

  /** Progressive delay once an account has `delayAfterFailures` consecutive failures. */
  async #throttle(user: UserRecord, clientAddress: string): Promise<void> {
    const delayMs = this.#delayMs(user.failedLogins);
    if (!delayMs) return;
    this.#o.emit('identity.login.throttled', { subject: user.id, clientAddress, failures: user.failedLogins, delayMs });
    await this.#sleep(delayMs);
  }

  #delayMs(failures: number): number {
    const { login } = this.#o.config;
    if (failures < login.delayAfterFailures) return 0;
    return Math.min(login.maxDelayMs, 250 * 2 ** (failures - login.delayAfterFailures));
  }

  /** Counts a wrong password or second factor for the account and the address; true when the account is now locked. */
  async #failure(user: UserRecord, clientAddress: string): Promise<boolean> {
    const { login } = this.#o.config;
    const lockUntil = Date.now() + login.lockSeconds * 1000;
    const { failures, locked } = await this.#o.users.recordFailure(user.id, login.lockAfterFailures, lockUntil);
    await this.#addressFailure(clientAddress);
    if (locked) this.#o.emit('identity.account.locked', { subject: user.id, clientAddress, failures, lockedUntil: new Date(lockUntil).toISOString() });
    return locked;
  }

  /** Counted per client network: one IPv6 client is its /64, not each address it picks. */
  async #addressFailure(clientAddress: string): Promise<void> {
    const { login } = this.#o.config;
    const address = clientNetwork(clientAddress);
    const { blocked } = await this.#o.throttle.recordFailure(address, login.addressLockAfterFailures, login.addressWindowSeconds * 1000, login.lockSeconds * 1000);
    if (blocked) this.#o.emit('identity.address.blocked', { clientAddress: address, blockedUntil: new Date(Date.now() + login.lockSeconds * 1000).toISOString() });
  }

  /**
   * Verifies a TOTP code (refusing replays across instances) or a one-time recovery code.
   * Refused while the account is locked or the client's address blocked; a wrong one counts towards both.
   */
  async verifySecondFactor(user: UserRecord, input: { code?: string; recoveryCode?: string }, clientAddress: string): Promise<SecondFactorOutcome> {
    return this.#oneAtATime(user.id, () => this.#verifySecondFactor(user, input, clientAddress));
  }

  async #verifySecondFactor(user: UserRecord, input: { code?: string; recoveryCode?: string }, clientAddress: string): Promise<SecondFactorOutcome> {
    const { users, throttle, emit } = this.#o;
    // An address blocked since the password step (by guesses at any account, this one's codes
    // included) is refused here as there: otherwise it could go on guessing codes in a sign-in
    // it opened before the block. Audited as the password step audits it.
    if (await throttle.blockedUntil(clientNetwork(clientAddress))) {
      emit('identity.login.failed', { username: user.username, subject: user.id, clientAddress, reason: 'address_blocked' });
      return { ok: false, reason: 'address_blocked' };
    }
    // Read again: a lock (from here, another instance or anomaly detection) and the last TOTP
    // step may have changed since the password step.
    const current = (await users.findById(user.id)) ?? user;
    if (current.lockedUntil !== undefined && current.lockedUntil > Date.now()) {
      emit('identity.mfa.failed', { subject: user.id, clientAddress, reason: 'locked' });
      return { ok: false, reason: 'locked' };
    }
    await this.#throttle(current, clientAddress);
    const result = await this.#checkSecondFactor(current, input);
    if (result === 'totp' || result === 'recovery_code') {
      if (current.failedLogins || current.lockedUntil !== undefined) await users.update(user.id, { failedLogins: 0, lockedUntil: undefined });
      emit('identity.mfa.verified', { subject: user.id, method: result, ...(result === 'recovery_code' ? { remainingRecoveryCodes: await users.countUnusedRecoveryCodes(user.id) } : {}) });
      return { ok: true };
    }
    const locked = await this.#failure(current, clientAddress);
    emit('identity.mfa.failed', { subject: user.id, clientAddress, reason: result });
    return { ok: false, reason: locked ? 'locked' : 'invalid' };
  }

  /** Which second factor matched, or why none did. */
  async #checkSecondFactor(user: UserRecord, input: { code?: string; recoveryCode?: string }): Promise<'totp' | 'recovery_code' | 'invalid' | 'replay'> {
    const { users, sealer } = this.#o;
    // A secret without totpEnabled is a pending enrollment, not a second factor.
    if (input.code && user.totpEnabled && user.totpSecretSealed) {
      const secret = await sealer.open(user.totpSecretSealed);
      const step = await verifyTotp(secret, input.code.trim(), user.totpLastStep);
      if (step !== undefined && (await users.acceptTotpStep(user.id, step))) return 'totp';
      // A valid code for an already-used step is a replay; say so in the audit trail only.
      const replay = step === undefined && (await verifyTotp(secret, input.code.trim(), undefined)) !== undefined;
      return replay || step !== undefined ? 'replay' : 'invalid';
    }
    if (input.recoveryCode && (await users.useRecoveryCode(user.id, hashSecret(normalizeRecoveryCode(input.recoveryCode))))) return 'recovery_code';
    return 'invalid';
  }

  /**
   * A new TOTP secret (plaintext for display, sealed for the interaction state), stored as the
   * user's pending secret: the enrollment of the latest sign-in is the only one that can be
   * confirmed, and an MFA reset clears it.
   */
  async startEnrollment(user: UserRecord): Promise<{ secret: string; uri: string; sealed: string }> {
    const secret = newTotpSecret();
    const sealed = await this.#o.sealer.seal(secret);
    if (!(await this.#o.users.setPendingTotp(user.id, sealed))) {
      throw new GatehouseError('ERR_IDENTITY_INTERACTION_INVALID', { detail: `user ${user.id} enrolled TOTP in another sign-in` });
    }
    return { secret, uri: totpUri(secret, this.#o.config.mfa.issuer, user.username), sealed };
  }

  /**
   * Confirms enrollment with a first code; enables the secret and returns fresh recovery codes.
   * Undefined for a wrong code. Enabling is a compare-and-set on the pending secret: when another
   * sign-in enrolled or began enrolling meanwhile, or MFA was reset, nothing is stored and the
   * sign-in must start again (ERR_IDENTITY_INTERACTION_INVALID) — never a key the user did not confirm.
   */
  async completeEnrollment(user: UserRecord, sealedSecret: string, code: string): Promise<string[] | undefined> {
    const secret = await this.#o.sealer.open(sealedSecret);
    const step = await verifyTotp(secret, code.trim(), undefined);
    if (step === undefined) return undefined;
    if (!(await this.#o.users.enableTotp(user.id, sealedSecret, step))) {
      throw new GatehouseError('ERR_IDENTITY_INTERACTION_INVALID', { detail: `TOTP enrollment of user ${user.id} superseded (enrolled or restarted in another sign-in, or MFA reset)` });
    }
    const codes = Array.from({ length: this.#o.config.mfa.recoveryCodes }, generateRecoveryCode);
    await this.#o.users.replaceRecoveryCodes(user.id, codes.map((c) => hashSecret(normalizeRecoveryCode(c))));
    this.#o.emit('identity.mfa.enrolled', { subject: user.id });
    return codes;
  }
}
