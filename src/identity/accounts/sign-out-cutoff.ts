/**
 * "Signed out everywhere" for one user: when an administrator resets a user's password or
 * MFA, or disables the user, every sign-in made until then is over — its SSO session, codes,
 * refresh and access tokens — including after the user is enabled again. Someone who stole a
 * session or a refresh token keeps nothing once the credentials are reset.
 *
 * Tokens and sessions are not looked up and deleted (the store finds them by grant only);
 * instead the moment of the change is kept per user and whatever was signed in at or before
 * that second is refused where the provider asks for the account (`findAccount`) and by
 * introspection. The record lives as long as anything signed in before it can.
 */
import type { KvRepo } from '../../store/repos/kv-repo.ts';

const NS = 'identity:signed-out';

export class SignOutCutoffs {
  readonly #kv: KvRepo;
  readonly #ttlSec: number;

  /** @param ttlSec the longest lifetime of a session, grant or token signed in before a cutoff. */
  constructor(kv: KvRepo, ttlSec: number) {
    this.#kv = kv;
    this.#ttlSec = ttlSec;
  }

  /** Ends every sign-in of `userId` made until now. */
  async signOut(userId: string, now = Date.now()): Promise<void> {
    await this.#kv.upsert(NS, userId, { at: Math.floor(now / 1000) }, this.#ttlSec);
  }

  /**
   * True when a sign-in at `authTime` (epoch seconds) was ended. The second of the change
   * itself counts as before it; an unknown time counts as ended once there is a cutoff.
   */
  async ended(userId: string, authTime: number | undefined): Promise<boolean> {
    const at = await this.at(userId);
    if (at === undefined) return false;
    return typeof authTime !== 'number' || authTime <= at;
  }

  /** Epoch seconds of the user's last sign-out everywhere, if one is still on record. */
  async at(userId: string): Promise<number | undefined> {
    const record = await this.#kv.find(NS, userId);
    const at = (record?.payload as { at?: unknown } | undefined)?.at;
    return typeof at === 'number' ? at : undefined;
  }
}
