/**
 * Verifies a bearer JWT against the configured issuers. Order matters: size first (before any
 * parsing), then the issuer chosen by the unverified `iss`, then that issuer's algorithm
 * allow-list and `crit`, then signature and time claims by jose. `jku`/`x5u` are never read.
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
