/**
 * Sender-constrained tokens: what a token's `cnf` claim (RFC 7800) binds it to. Gatehouse
 * checks two confirmation methods — a TLS client certificate (RFC 8705 `x5t#S256`) and a
 * DPoP key (RFC 9449 `jkt`). A `cnf` with nothing Gatehouse can check is refused rather than
 * ignored: the issuer meant the token to be unusable without a proof we cannot ask for.
 */
import { GatehouseError } from '../../core/errors.ts';

/** The confirmation a verified token carries; `undefined` members are not required. */
export interface TokenBinding {
  /** base64url SHA-256 thumbprint of the client certificate (RFC 8705 §3.1). */
  readonly x5t: string | undefined;
  /** base64url SHA-256 JWK thumbprint of the DPoP key (RFC 9449 §6.1, RFC 7638). */
  readonly jkt: string | undefined;
}

const SHA256_B64URL = /^[A-Za-z0-9_-]{43}$/;

/** Reads `cnf` of a verified payload; undefined when the token is a plain bearer token. */
export function readTokenBinding(cnf: unknown): TokenBinding | undefined {
  if (cnf === undefined) return undefined;
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) {
    throw new GatehouseError('ERR_AUTHN_TOKEN_BINDING_UNSUPPORTED', { detail: 'cnf is not an object' });
  }
  const c = cnf as Record<string, unknown>;
  const x5t = Object.hasOwn(c, 'x5t#S256') ? c['x5t#S256'] : undefined;
  const jkt = Object.hasOwn(c, 'jkt') ? c.jkt : undefined;
  for (const [name, value] of [['x5t#S256', x5t], ['jkt', jkt]] as const) {
    if (value !== undefined && (typeof value !== 'string' || !SHA256_B64URL.test(value))) {
      throw new GatehouseError('ERR_AUTHN_TOKEN_BINDING_UNSUPPORTED', { detail: `cnf.${name} is not a base64url SHA-256 thumbprint` });
    }
  }
  if (x5t === undefined && jkt === undefined) {
    throw new GatehouseError('ERR_AUTHN_TOKEN_BINDING_UNSUPPORTED', { detail: `cnf members ${JSON.stringify(Object.keys(c).slice(0, 5))} cannot be checked` });
  }
  return Object.freeze({ x5t: x5t as string | undefined, jkt: jkt as string | undefined });
}
