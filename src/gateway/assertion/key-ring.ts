/**
 * Signing keys of identity assertions: the current key, the next one (published in the
 * JWKS ahead of use, so verifiers that cached the JWKS already know it when it starts
 * signing), and retired keys (kept published until every assertion they signed expired).
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { IDENTITY_ASSERTION_ALG } from '../../sdk/contract.ts';

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  /** Unix ms. */
  readonly createdAt: number;
}

/** A key in exportable form, for persisting keys in the store so every instance shares them. */
export interface StoredSigningKey {
  kid: string;
  privateJwk: JWK;
  createdAt: number;
}

export async function generateSigningKey(now: number, extractable: boolean): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(IDENTITY_ASSERTION_ALG, { extractable });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, privateKey, publicJwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid, alg: IDENTITY_ASSERTION_ALG, use: 'sig' }, createdAt: now };
}

export async function importSigningKey(stored: StoredSigningKey): Promise<SigningKey> {
  const privateKey = await importJWK({ ...stored.privateJwk, alg: IDENTITY_ASSERTION_ALG }, IDENTITY_ASSERTION_ALG, { extractable: true });
  const { d: _d, ...pub } = stored.privateJwk;
  const kid = await calculateJwkThumbprint(pub);
  if (kid !== stored.kid) throw new Error(`stored assertion key ${stored.kid} does not match its thumbprint`);
  return { kid, privateKey: privateKey as CryptoKey, publicJwk: { kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y, kid, alg: IDENTITY_ASSERTION_ALG, use: 'sig' }, createdAt: stored.createdAt };
}

export async function exportSigningKey(key: SigningKey): Promise<StoredSigningKey> {
  return { kid: key.kid, privateJwk: await exportJWK(key.privateKey), createdAt: key.createdAt };
}

export class KeyRing {
  #current: SigningKey;
  #next: SigningKey;
  #retired: { key: SigningKey; until: number }[] = [];
  #jwks: string;

  constructor(current: SigningKey, next: SigningKey) {
    this.#current = current;
    this.#next = next;
    this.#jwks = this.#render();
  }

  get current(): SigningKey {
    return this.#current;
  }

  get next(): SigningKey {
    return this.#next;
  }

  /** The JWKS document (JSON text), rendered once per change. */
  get jwksJson(): string {
    return this.#jwks;
  }

  /** Promotes the next key; the old current key stays published until `retireUntil` (Unix ms). */
  rotate(newNext: SigningKey, retireUntil: number, now: number): void {
    this.#retired = this.#retired.filter((r) => r.until > now);
    this.#retired.push({ key: this.#current, until: retireUntil });
    this.#current = this.#next;
    this.#next = newNext;
    this.#jwks = this.#render();
  }

  /** Drops retired keys whose assertions have all expired. */
  prune(now: number): void {
    const before = this.#retired.length;
    this.#retired = this.#retired.filter((r) => r.until > now);
    if (this.#retired.length !== before) this.#jwks = this.#render();
  }

  #render(): string {
    return JSON.stringify({ keys: [this.#current.publicJwk, this.#next.publicJwk, ...this.#retired.map((r) => r.key.publicJwk)] });
  }
}
