/**
 * Checks a DPoP proof (RFC 9449 §4.3) presented with a DPoP-bound access token: a JWT of
 * type `dpop+jwt`, signed with an allowed asymmetric algorithm by the public key embedded
 * in its header (jose's EmbeddedJWK refuses private keys), whose thumbprint is the token's
 * `cnf.jkt`, made for this method and URL (`htm`, `htu` without query and fragment), for this
 * token (`ath`), recently (`iat`), and never seen before (`jti`, remembered until the proof
 * would be too old anyway). Each refusal has its own code.
 */
import { hash } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, jwtVerify, type JWK, type JWTPayload } from 'jose';
import { GatehouseError } from '../../core/errors.ts';
import { normalizePath } from '../../gateway/router/normalize-path.ts';
import { normalizeHost } from '../../gateway/router/normalize-host.ts';
import type { ReplayCache } from './replay-cache.ts';

export interface DpopVerifierOptions {
  algorithms: readonly string[];
  maxAgeSec: number;
  clockSkewSec: number;
  replay: ReplayCache;
  /** Origins `htu` may name (the public origin first). */
  origins: readonly string[];
  now?: () => number;
}

/** What the proof must match: the request as the client sent it and the token it carries. */
export interface DpopPresentation {
  /** The `DPoP` header value(s); more than one is refused. */
  proof: string | string[] | undefined;
  method: string;
  /** The request target as received (`req.url`: origin-form path and query; any other form is refused). */
  target: string;
  /** The request's host name as the gateway routes it (normalized, without port); '' when unknown. */
  host?: string;
  accessToken: string;
  /** The token's `cnf.jkt`. */
  jkt: string;
}

/** Longest proof looked at: an RSA-4096 key and signature fit with room to spare. */
const MAX_PROOF_BYTES = 8192;
const MAX_JTI_LENGTH = 256;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function invalid(detail: string, cause?: unknown): GatehouseError {
  return new GatehouseError('ERR_AUTHN_DPOP_INVALID', { detail, cause });
}

/**
 * A path as the gateway routes and forwards it, or undefined when the gateway would refuse it.
 * Both the request target and `htu` go through it: the URL parser alone reads a target
 * `//host/admin` as host `host` and path `/admin`, while the gateway routes `/host/admin`.
 */
function routedPath(path: string): string | undefined {
  try {
    return normalizePath(path).path;
  } catch {
    return undefined;
  }
}

export class DpopVerifier {
  readonly #o: DpopVerifierOptions;
  readonly #origins: ReadonlySet<string>;
  /** Host names of the allowed origins: a request addressed to one of them needs a proof naming it. */
  readonly #hosts: ReadonlySet<string>;
  readonly #now: () => number;

  constructor(options: DpopVerifierOptions) {
    this.#o = options;
    this.#origins = new Set(options.origins.map((o) => new URL(o).origin));
    this.#hosts = new Set(options.origins.map((o) => normalizeHost(new URL(o).hostname)));
    this.#now = options.now ?? Date.now;
  }

  /** Algorithms for the `DPoP algs="…"` challenge. */
  get algorithms(): readonly string[] { return this.#o.algorithms; }

  /** Resolves when the proof is acceptable; rejects with an ERR_AUTHN_DPOP_* GatehouseError (or ERR_AUTHN_UNAVAILABLE). */
  async verify(p: DpopPresentation): Promise<void> {
    if (p.proof === undefined || p.proof === '') throw new GatehouseError('ERR_AUTHN_DPOP_REQUIRED', { detail: 'DPoP scheme without a DPoP header' });
    // Node joins repeated unknown headers with ", "; a compact JWS never contains a comma.
    if (Array.isArray(p.proof) || p.proof.includes(',')) throw invalid('more than one DPoP header');
    const proof = p.proof;
    if (proof.length > MAX_PROOF_BYTES) throw invalid(`proof of ${proof.length} bytes`);
    if (!COMPACT_JWS.test(proof)) throw invalid('not a compact JWS');

    let jwk: JWK;
    let payload: JWTPayload;
    try {
      const header = decodeProtectedHeader(proof);
      if (typeof header.alg !== 'string' || !this.#o.algorithms.includes(header.alg)) throw invalid(`alg ${JSON.stringify(header.alg)} not allowed`);
      ({ payload } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: [...this.#o.algorithms] }));
      jwk = header.jwk as JWK;
    } catch (error) {
      if (error instanceof GatehouseError) throw error;
      throw invalid(`${String((error as { code?: unknown }).code ?? 'error')}: ${error instanceof Error ? error.message : String(error)}`, error);
    }

    const { jti, htm, htu, iat, ath } = payload;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) throw invalid('jti missing or too long');
    if (typeof htm !== 'string' || typeof htu !== 'string' || typeof iat !== 'number' || typeof ath !== 'string') throw invalid('htm, htu, iat or ath missing');

    const thumbprint = await calculateJwkThumbprint(jwk, 'sha256');
    if (thumbprint !== p.jkt) throw new GatehouseError('ERR_AUTHN_DPOP_KEY_MISMATCH', { detail: `proof key ${thumbprint}, token bound to ${p.jkt}` });

    if (htm !== p.method) throw new GatehouseError('ERR_AUTHN_DPOP_TARGET_MISMATCH', { detail: `htm ${JSON.stringify(htm.slice(0, 20))} for a ${p.method} request` });
    let url: URL;
    try { url = new URL(htu); } catch (error) { throw invalid('htu is not a URL', error); }
    const origin = url.origin;
    const expectedPath = routedPath(p.target);
    // RFC 9449 §4.3: htu is the URI of this request. A gateway serving several of its origins
    // routes each host name to its own routes, so a proof for one must not be spent on another;
    // a request addressed by a name outside the list (an address behind a load balancer) can
    // only be held to the list.
    const host = p.host ?? '';
    const otherHost = host !== '' && this.#hosts.has(host) && normalizeHost(url.hostname) !== host;
    if (!this.#origins.has(origin) || otherHost || url.username !== '' || url.password !== '' || expectedPath === undefined || routedPath(url.pathname) !== expectedPath) {
      throw new GatehouseError('ERR_AUTHN_DPOP_TARGET_MISMATCH', { detail: `htu ${JSON.stringify(htu.slice(0, 200))} for ${JSON.stringify(p.target.slice(0, 200))}` });
    }

    if (ath !== hash('sha256', p.accessToken, 'base64url')) throw new GatehouseError('ERR_AUTHN_DPOP_TOKEN_HASH', { detail: 'ath does not hash the presented token' });

    const nowSec = this.#now() / 1000;
    if (iat < nowSec - this.#o.maxAgeSec || iat > nowSec + this.#o.clockSkewSec) {
      throw new GatehouseError('ERR_AUTHN_DPOP_STALE', { detail: `iat ${iat}, now ${Math.floor(nowSec)}` });
    }

    // Last, so that only proofs good in every other respect take a place in the cache.
    const key = hash('sha256', `${thumbprint}.${jti}`, 'base64url');
    let first: boolean;
    try {
      // Whole milliseconds: `iat` may have a fraction (RFC 7519 NumericDate), the store's column may not.
      first = await this.#o.replay.firstUse(key, Math.ceil((iat + this.#o.maxAgeSec + this.#o.clockSkewSec) * 1000));
    } catch (error) {
      throw new GatehouseError('ERR_AUTHN_UNAVAILABLE', { detail: 'DPoP replay cache unreachable', cause: error });
    }
    if (!first) throw new GatehouseError('ERR_AUTHN_DPOP_REPLAYED', { detail: `jti ${JSON.stringify(jti.slice(0, 64))}` });
  }
}
