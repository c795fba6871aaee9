/**
 * Maps jose's errors to Gatehouse codes, one code per reason a token is refused.
 * GatehouseErrors thrown by key resolvers pass through unchanged.
 */
import { GatehouseError, type ErrorCode } from '../../core/errors.ts';

function field(error: unknown, name: string): unknown {
  return typeof error === 'object' && error !== null ? (error as Record<string, unknown>)[name] : undefined;
}

const CLAIM_CODES: Record<string, ErrorCode> = {
  nbf: 'ERR_AUTHN_TOKEN_NOT_YET_VALID',
  exp: 'ERR_AUTHN_TOKEN_EXPIRED',
  iss: 'ERR_AUTHN_TOKEN_ISSUER',
  aud: 'ERR_AUTHN_TOKEN_AUDIENCE',
  typ: 'ERR_AUTHN_TOKEN_TYPE',
};

/** Converts anything thrown while verifying a JWT into a GatehouseError. */
export function joseToGatehouse(error: unknown): GatehouseError {
  if (error instanceof GatehouseError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = field(error, 'code');
  const claim = field(error, 'claim');
  let mapped: ErrorCode;
  switch (code) {
    case 'ERR_JWT_EXPIRED': mapped = 'ERR_AUTHN_TOKEN_EXPIRED'; break;
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': mapped = (typeof claim === 'string' ? CLAIM_CODES[claim] : undefined) ?? 'ERR_AUTHN_TOKEN_INVALID'; break;
    case 'ERR_JOSE_ALG_NOT_ALLOWED': mapped = 'ERR_AUTHN_TOKEN_ALGORITHM'; break;
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED': mapped = 'ERR_AUTHN_TOKEN_SIGNATURE'; break;
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS': mapped = 'ERR_AUTHN_TOKEN_KEY_UNKNOWN'; break;
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID': mapped = 'ERR_AUTHN_TOKEN_MALFORMED'; break;
    default: mapped = 'ERR_AUTHN_TOKEN_INVALID';
  }
  return new GatehouseError(mapped, { detail: `${String(code ?? 'error')}: ${message}`, cause: error });
}
