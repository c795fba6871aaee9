/**
 * Failure counts for user names that belong to no account (or to one without a password), so
 * that they answer repeated wrong passwords like an account: delayed after
 * `delayAfterFailures`, locked at `lockAfterFailures` for `lockSeconds`. Otherwise five
 * guesses tell which names exist — only an account got slower and then "Too many attempts".
 *
 * Kept in the kv repository under the SHA-256 of the name (what was typed may be a password
 * in the wrong field), for a week after the last failure: an account keeps its count until a
 * successful sign-in, so a name seen again within that time looks the same. Counting is not
 * atomic across concurrent attempts; it only has to look like an account's.
 */
import { createHash } from 'node:crypto';
import type { KvRepo } from '../../store/repos/kv-repo.ts';

const NS = 'identity:unknown-login';
const KEEP_SEC = 7 * 86_400;

export interface UnknownNameState {
  failedLogins: number;
  lockedUntil: number | undefined;
}

export class UnknownNames {
  readonly #kv: KvRepo;

  constructor(kv: KvRepo) {
    this.#kv = kv;
  }

  async get(username: string): Promise<UnknownNameState> {
    const record = await this.#kv.find(NS, key(username));
    const p = (record?.payload ?? {}) as { failedLogins?: unknown; lockedUntil?: unknown };
    return {
      failedLogins: typeof p.failedLogins === 'number' ? p.failedLogins : 0,
      lockedUntil: typeof p.lockedUntil === 'number' ? p.lockedUntil : undefined,
    };
  }

  /** Counts a failure like `IdentityUsersRepo.recordFailure`: at `lockAfter` the name locks until `lockUntil` and the count restarts. */
  async recordFailure(username: string, current: UnknownNameState, lockAfter: number, lockUntil: number): Promise<{ locked: boolean }> {
    const failures = current.failedLogins + 1;
    const locked = failures >= lockAfter;
    const next: UnknownNameState = locked ? { failedLogins: 0, lockedUntil: lockUntil } : { failedLogins: failures, lockedUntil: current.lockedUntil };
    const keepSec = Math.max(KEEP_SEC, Math.ceil((lockUntil - Date.now()) / 1000));
    await this.#kv.upsert(NS, key(username), next, keepSec);
    return { locked };
  }
}

function key(username: string): string {
  return createHash('sha256').update(username, 'utf8').digest('base64url');
}
