/**
 * Verifies a bearer JWT against the configured issuers. Order matters: size first (before any
 * parsing), then the issuer chosen by the unverified `iss`, then that issuer's algorithm
 * allow-list and `crit`, then signature and time claims by jose, then what jose lets through
 * that no revocation could name (non-finite times, an `exp` past the store's range, a `jti`
 * the store refuses). `jku`/`x5u` are never read.
 * Audience is checked per route by the caller, so that one verified token serves every route.
 */
import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { GatehouseError } from '../../core/errors.ts';
import type { CompiledIssuer } from './issuer.ts';
import { joseToGatehouse } from './jose-errors.ts';

export interface VerifiedJwt {
  payload: JWTPayload & { sub: string; exp: number };
  header: ProtectedHeaderParameters;
  issuer: CompiledIssuer;
}

export interface JwtVerifierOptions {
  issuers: readonly CompiledIssuer[];
  maxTokenBytes: number;
}

const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Latest `exp` accepted (epoch seconds, about year 36800): the latest expiry a revocation can
 * be recorded for (the store keeps milliseconds as a 64-bit integer). jose accepts any number,
 * `1e400` (Infinity) included; such a token would be cached for ever and could not be revoked.
 */
export const MAX_TOKEN_EXPIRY_SEC = 2 ** 40;
/** Longest `jti` a revocation can name (the store's limit on keys). */
export const MAX_JTI_LENGTH = 512;

/**
 * Why a token jose accepted is still refused, or undefined. jose checks that exp/nbf/iat are
 * numbers, not that they are finite; and whatever `jti` the issuer chose, a revocation must
 * be able to name it (the CLI and the store refuse one that is not a well-formed string of
 * 1-512 characters without NUL), or the token could never be revoked by id.
 */
function unrevocable(payload: JWTPayload & { exp: number }): string | undefined {
  for (const claim of ['exp', 'nbf', 'iat'] as const) {
    const value = payload[claim];
    if (value !== undefined && !Number.isFinite(value)) return `${claim} is not a finite number`;
  }
  if (payload.exp > MAX_TOKEN_EXPIRY_SEC) return `exp ${payload.exp} is beyond ${MAX_TOKEN_EXPIRY_SEC}`;
  const jti: unknown = payload.jti;
  if (jti !== undefined && (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH || !jti.isWellFormed() || jti.includes('\0'))) {
    return 'jti is not a string of 1-512 well-formed characters without NUL';
  }
  return undefined;
}

export class JwtVerifier {
  readonly #issuers: Map<string, CompiledIssuer>;
  readonly #maxTokenBytes: number;

  constructor(options: JwtVerifierOptions) {
    this.#issuers = new Map(options.issuers.map((i) => [i.issuer, i]));
    this.#maxTokenBytes = options.maxTokenBytes;
  }

  /** Resolves the verified token, or rejects with an ERR_AUTHN_* GatehouseError. */
  async verify(token: string): Promise<VerifiedJwt> {
    if (token.length > this.#maxTokenBytes) {
      throw new GatehouseError('ERR_AUTHN_TOKEN_TOO_LARGE', { detail: `${token.length} bytes > ${this.#maxTokenBytes}` });
    }
    if (!JWS_COMPACT.test(token)) throw new GatehouseError('ERR_AUTHN_TOKEN_MALFORMED', { detail: 'not a compact JWS' });
    let header: ProtectedHeaderParameters;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch (error) {
      throw new GatehouseError('ERR_AUTHN_TOKEN_MALFORMED', { detail: error instanceof Error ? error.message : String(error), cause: error });
    }
    const issuer = typeof unverified.iss === 'string' ? this.#issuers.get(unverified.iss) : undefined;
    if (issuer === undefined) throw new GatehouseError('ERR_AUTHN_TOKEN_ISSUER', { detail: `issuer ${JSON.stringify(unverified.iss)} not configured` });
    if (typeof header.alg !== 'string' || !issuer.algorithms.includes(header.alg)) {
      throw new GatehouseError('ERR_AUTHN_TOKEN_ALGORITHM', { detail: `alg ${JSON.stringify(header.alg)} not allowed for ${issuer.issuer}` });
    }
    // Gatehouse understands no JWS extension, so any `crit` entry must be refused (RFC 7515 §4.1.11).
    if (header.crit !== undefined) {
      throw new GatehouseError('ERR_AUTHN_TOKEN_CRIT_UNSUPPORTED', { detail: `crit ${JSON.stringify(header.crit)}` });
    }
    try {
      const { payload, protectedHeader } = await jwtVerify(token, issuer.keys, {
        algorithms: [...issuer.algorithms],
        issuer: issuer.issuer,
        clockTolerance: issuer.clockSkewSec,
        requiredClaims: ['exp', 'sub'],
        crit: {},
        ...(issuer.typ === undefined ? {} : { typ: issuer.typ }),
      });
      if (typeof payload.sub !== 'string' || payload.sub === '' || typeof payload.exp !== 'number') {
        throw new GatehouseError('ERR_AUTHN_TOKEN_INVALID', { detail: 'sub or exp missing' });
      }
      const why = unrevocable(payload as JWTPayload & { exp: number });
      if (why !== undefined) throw new GatehouseError('ERR_AUTHN_TOKEN_INVALID', { detail: why });
      return { payload: payload as VerifiedJwt['payload'], header: protectedHeader, issuer };
    } catch (error) {
      throw joseToGatehouse(error);
    }
  }
}

/** True when the token's `aud` (string or array) contains one of `accepted`. */
export function audienceAccepted(aud: unknown, accepted: readonly string[]): boolean {
  if (typeof aud === 'string') return accepted.includes(aud);
  if (Array.isArray(aud)) return aud.some((a) => typeof a === 'string' && accepted.includes(a));
  return false;
}
