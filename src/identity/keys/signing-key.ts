/**
 * Token-signing keys handed to oidc-provider as "external" signing keys: oidc-provider still
 * builds every JWS (header, payload, encoding), only the signature is made here with
 * `node:crypto` directly. The reason is speed: oidc-provider signs through jose and WebCrypto,
 * which costs ~150 µs of CPU per ES256 signature on the bench machine against ~35 µs for the
 * same signature from `crypto.sign` (one per client-credentials grant, one ID token per
 * refresh or code grant). The private key never leaves this object.
 */
import { createPrivateKey, createPublicKey, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { ExternalSigningKey } from 'oidc-provider';
import type { JWK } from 'jose';

/** JWS algorithm → node:crypto digest (null: the algorithm has its own, as Ed25519). */
const DIGESTS: Record<string, string | null> = { ES256: 'sha256', RS256: 'sha256', EdDSA: null };

export class NodeSigningKey extends ExternalSigningKey {
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  readonly #digest: string | null;

  /** `jwk`: a private JWK with `kid` and `alg` (ES256, EdDSA or RS256). */
  constructor(jwk: JWK) {
    super();
    if (!jwk.kid || !jwk.alg || !(jwk.alg in DIGESTS)) throw new TypeError(`signing key needs a kid and one of ${Object.keys(DIGESTS).join(', ')}`);
    this.#privateKey = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
    this.#publicKey = createPublicKey(this.#privateKey);
    this.#digest = DIGESTS[jwk.alg]!;
    this.kid = jwk.kid;
    this.alg = jwk.alg;
  }

  override keyObject(): KeyObject {
    return this.#publicKey;
  }

  override async sign(data: Buffer): Promise<Buffer> {
    // JWS wants ECDSA signatures as r || s (IEEE P1363), not DER (RFC 7518 §3.4).
    return sign(this.#digest, data, { key: this.#privateKey, dsaEncoding: 'ieee-p1363' });
  }
}
