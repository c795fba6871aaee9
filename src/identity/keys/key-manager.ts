/**
 * Signing keys and cookie keys of the OpenID provider, kept in the store (sealed) so that
 * every instance signs with the same key and a restart changes nothing.
 *
 * Rotation with overlap: `rotate()` makes a new key the signer at once; the previous key
 * stays in the JWKS (verifying only) until every token it signed has expired
 * (`retireAfterMs` = longest JWT lifetime + clock tolerance), then disappears: the
 * provider reloads at that moment, and `load()` deletes the retired rows.
 */
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { IdentityKeysRepo, StoredKey } from '../../store/repos/identity-keys-repo.ts';
import type { KeySealer } from './key-sealer.ts';

export type SigningAlgorithm = 'ES256' | 'EdDSA' | 'RS256';

export interface KeyMaterial {
  /** Private JWKs, active signer first (oidc-provider signs with the first matching key). */
  jwks: JWK[];
  /** Cookie signing secrets, newest first (Keygrip signs with the first). */
  cookieKeys: string[];
  activeKid: string;
  /** Earliest time (epoch ms) a loaded key retires; reload then so it leaves the JWKS on time. */
  nextRetireAt: number | undefined;
  /** Each signing key's planned retirement (undefined: the active key), to tell a withdrawal from a retirement. */
  signingRetireAt: ReadonlyMap<string, number | undefined>;
}

export class KeyManager {
  readonly #repo: IdentityKeysRepo;
  readonly #sealer: KeySealer;
  readonly #alg: SigningAlgorithm;
  readonly #retireAfterMs: number;

  constructor(repo: IdentityKeysRepo, sealer: KeySealer, alg: SigningAlgorithm, retireAfterMs: number) {
    this.#repo = repo;
    this.#sealer = sealer;
    this.#alg = alg;
    this.#retireAfterMs = retireAfterMs;
  }

  /** Loads the keys, generating the first ones when the store has none; deletes retired rows. */
  async load(now = Date.now()): Promise<KeyMaterial> {
    await this.#repo.deleteRetired(now);
    if (!(await this.#repo.list('sig')).some((k) => k.status === 'active')) {
      await this.#repo.insertFirst(await this.#newSigningKey(this.#alg));
    }
    if (!(await this.#repo.list('cookie')).some((k) => k.status === 'active')) {
      await this.#repo.insertFirst(await this.#newCookieKey());
    }
    const sig = sortActiveFirst(await this.#repo.list('sig', now));
    const cookie = sortActiveFirst(await this.#repo.list('cookie', now));
    const jwks = await Promise.all(sig.map(async (k) => JSON.parse(await this.#sealer.open(k.sealed)) as JWK));
    const cookieKeys = await Promise.all(cookie.map((k) => this.#sealer.open(k.sealed)));
    const retireTimes = [...sig, ...cookie].map((k) => k.retireAt).filter((t): t is number => t !== undefined);
    return {
      jwks, cookieKeys, activeKid: sig[0]!.kid, nextRetireAt: retireTimes.length ? Math.min(...retireTimes) : undefined,
      signingRetireAt: new Map(sig.map((k) => [k.kid, k.retireAt])),
    };
  }

  /** Kid of the signing key the store says is active now (one indexed read). */
  activeKid(): Promise<string | undefined> {
    return this.#repo.activeKid('sig');
  }

  /**
   * Makes a new signing key (and cookie key) active; returns the new and the retired kid.
   * `retirePrevious`: every earlier key retires now instead of once its tokens have expired, so
   * that tokens and IdP cookies they signed stop working at once (a key that may be compromised).
   */
  async rotate(alg: SigningAlgorithm = this.#alg, options: { retirePrevious?: boolean } = {}): Promise<{ kid: string; previousKid: string | undefined; retireAt: number }> {
    const previous = (await this.#repo.list('sig')).find((k) => k.status === 'active');
    const now = Date.now();
    const retirePrevious = options.retirePrevious === true;
    const retireAt = retirePrevious ? now : now + this.#retireAfterMs;
    const key = await this.#newSigningKey(alg);
    await this.#repo.rotate(key, retireAt, now, retirePrevious);
    await this.#repo.rotate(await this.#newCookieKey(), retireAt, now, retirePrevious);
    return { kid: key.kid, previousKid: previous?.kid, retireAt };
  }

  async #newSigningKey(alg: SigningAlgorithm): Promise<Omit<StoredKey, 'status' | 'retireAt'>> {
    const { privateKey, publicKey } = alg === 'EdDSA'
      ? await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
      : await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 3072 } : {}) });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
    return { kid, use: 'sig', alg, sealed: await this.#sealer.seal(JSON.stringify(privateJwk)), publicJwk: { ...publicJwk, kid, alg, use: 'sig' }, createdAt: Date.now() };
  }

  async #newCookieKey(): Promise<Omit<StoredKey, 'status' | 'retireAt'>> {
    const secret = randomBytes(32).toString('base64url');
    return { kid: `cookie-${randomBytes(8).toString('hex')}`, use: 'cookie', alg: 'HS256', sealed: await this.#sealer.seal(secret), publicJwk: {}, createdAt: Date.now() };
  }
}

function sortActiveFirst(keys: StoredKey[]): StoredKey[] {
  return [...keys].sort((a, b) => (a.status === b.status ? b.createdAt - a.createdAt : a.status === 'active' ? -1 : 1));
}
