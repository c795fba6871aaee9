/**
 * SPIFFE IDs as Gatehouse uses them: `spiffe://<trustDomain>/<kind>/<name>`.
 *
 * The grammar is the SPIFFE ID standard's, narrowed to exactly two path segments so that
 * an identity is always "what kind of workload" plus "which one", and parsed strictly:
 * no percent-encoding, no dot segments, no port, user info, query or fragment. A string
 * that is not in canonical form is refused rather than normalized, so two spellings can
 * never name one identity.
 */
import { GatehouseError } from '../core/errors.ts';

const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
const KIND = /^[a-z][a-z0-9-]{0,31}$/;
const NAME = /^[A-Za-z0-9._-]{1,128}$/;

export interface SpiffeId {
  trustDomain: string;
  kind: string;
  name: string;
  /** The canonical URI, `spiffe://<trustDomain>/<kind>/<name>`. */
  uri: string;
}

/** True when `value` is a valid trust domain name (lower-case, no port). */
export function isTrustDomain(value: string): boolean {
  return TRUST_DOMAIN.test(value) && !value.startsWith('.') && !value.endsWith('.');
}

/** Builds the canonical SPIFFE ID; throws ERR_PKI_SPIFFE_ID_INVALID on a bad part. */
export function formatSpiffeId(trustDomain: string, kind: string, name: string): string {
  if (!isTrustDomain(trustDomain) || !KIND.test(kind) || !NAME.test(name) || name === '.' || name === '..') {
    throw new GatehouseError('ERR_PKI_SPIFFE_ID_INVALID', { detail: `bad parts: ${JSON.stringify([trustDomain, kind, name])}` });
  }
  return `spiffe://${trustDomain}/${kind}/${name}`;
}

/**
 * Parses a SPIFFE ID of the form `spiffe://<td>/<kind>/<name>`.
 *
 * @param expectedTrustDomain when given, an ID of any other trust domain is refused.
 * @throws GatehouseError ERR_PKI_SPIFFE_ID_INVALID
 */
export function parseSpiffeId(value: string, expectedTrustDomain?: string): SpiffeId {
  const fail = (why: string): never => { throw new GatehouseError('ERR_PKI_SPIFFE_ID_INVALID', { detail: `${why}: ${JSON.stringify(value.slice(0, 300))}` }); };
  if (typeof value !== 'string' || value.length > 2048) fail('not a string of at most 2048 characters');
  if (!value.startsWith('spiffe://')) fail('scheme is not spiffe');
  const rest = value.slice('spiffe://'.length);
  const parts = rest.split('/');
  if (parts.length !== 3) fail('not exactly <trustDomain>/<kind>/<name>');
  const [trustDomain, kind, name] = parts as [string, string, string];
  if (!isTrustDomain(trustDomain)) fail('invalid trust domain');
  if (!KIND.test(kind)) fail('invalid kind');
  if (!NAME.test(name) || name === '.' || name === '..') fail('invalid name');
  if (expectedTrustDomain !== undefined && trustDomain !== expectedTrustDomain) fail(`trust domain is not ${expectedTrustDomain}`);
  return { trustDomain, kind, name, uri: value };
}
