/**
 * Tells whether a bearer value is an opaque token this provider issued: an access token
 * issued without a resource indicator (the usual browser code flow; good at userinfo) or a
 * refresh token. The gateway removes such a value from a public route's request, as it removes
 * API tokens and the provider's JWTs, so that a public upstream cannot replay it. Unlike those,
 * opaque values have no shape of their own (256 random bits, like many an application's own
 * tokens), so the store is asked.
 */
import type { KvRepo } from '../../store/repos/kv-repo.ts';
import { ExpiringLru } from '../../authn/lru-cache.ts';

/** oidc-provider's opaque values: `formats.bitsOfOpaqueRandomness` (256, its default, not configured here) in nanoid's URL alphabet. */
const OPAQUE_VALUE = /^[A-Za-z0-9_-]{43}$/;

/** Models (the adapter's namespaces, store-adapter.ts) whose opaque values a client holds. */
const BEARER_NAMESPACES = ['oidc:AccessToken', 'oidc:RefreshToken'] as const;

/** How long a value the provider never issued is remembered (see the class comment). */
const UNKNOWN_TTL_MS = 10 * 60_000;

/**
 * A value the provider never issued is remembered as such (bounded): it is usually a public
 * upstream's own token, sent with every request, and the provider never issues it later (its
 * values are random and stored before any client sees them). A value it did issue is looked up
 * each time; clients that send one to a public route are the rare, misbehaving case.
 *
 * A remembered value moves to the recent end each time it is sent again: anyone can send fresh
 * random values, one request each, and in insertion order those pushed out the upstream tokens
 * in use, so that every request carrying one cost store reads again (a few requests a second
 * bought store reads for all the public route's traffic).
 */
export class OpaqueTokenRecognizer {
  readonly #kv: KvRepo;
  /** Value → when it is forgotten (the entry's own expiry, kept when it moves). */
  readonly #unknown: ExpiringLru<number>;
  /** Lookups under way: the same value in many requests at once costs one store read. */
  readonly #pending = new Map<string, Promise<boolean>>();
  readonly #now: () => number;

  constructor(kv: KvRepo, options: { maxRemembered?: number; now?: () => number } = {}) {
    this.#kv = kv;
    this.#unknown = new ExpiringLru(options.maxRemembered ?? 10_000);
    this.#now = options.now ?? Date.now;
  }

  /**
   * False at once when `value` cannot be one of the provider's opaque tokens, or is
   * remembered as never issued; else whether a live access or refresh token has it (one store
   * read, shared by the requests that ask about the value meanwhile). Rejects when the store
   * cannot be read.
   */
  issued(value: string): false | Promise<boolean> {
    if (!OPAQUE_VALUE.test(value)) return false;
    const forgetAt = this.#unknown.get(value, this.#now());
    if (forgetAt !== undefined) {
      this.#unknown.set(value, forgetAt, forgetAt);
      return false;
    }
    let lookup = this.#pending.get(value);
    if (lookup === undefined) {
      lookup = this.#kv.exists(BEARER_NAMESPACES, value).then((found) => {
        if (!found) {
          const at = this.#now() + UNKNOWN_TTL_MS;
          this.#unknown.set(value, at, at);
        }
        return found;
      }).finally(() => this.#pending.delete(value));
      this.#pending.set(value, lookup);
    }
    return lookup;
  }
}
