/**
 * Canonical forms of the DNS names and IP addresses that may appear in a certificate, so
 * that "is this SAN allowed" compares like with like (case, IPv6 spelling).
 */
import { isIP } from 'node:net';
import { GatehouseError } from '../core/errors.ts';

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * Lower-cased DNS name, or undefined when it is not a plain host name. Wildcards are not
 * accepted: a workload certificate names the hosts it serves, not a pattern.
 */
export function canonicalDnsName(value: string): string | undefined {
  const name = value.toLowerCase();
  if (name.length === 0 || name.length > 253 || name.endsWith('.')) return undefined;
  return name.split('.').every((label) => LABEL.test(label)) ? name : undefined;
}

/** Canonical text of an IPv4 or IPv6 address, or undefined when it is not one. */
export function canonicalIp(value: string): string | undefined {
  // A zone index ("fe80::1%eth0") has no place in a certificate's 4- or 16-byte iPAddress.
  if (value.includes('%')) return undefined;
  const family = isIP(value);
  if (family === 4) return value.split('.').map((p) => String(Number(p))).join('.');
  // The WHATWG URL parser prints IPv6 in RFC 5952 form (lower case, compressed zeros).
  if (family === 6) return new URL(`http://[${value}]/`).hostname.slice(1, -1);
  return undefined;
}

/** The canonical forms of `values`, without repeats; ERR_ADMIN_INPUT_INVALID names the first that has none. */
export function canonicalList(values: readonly string[] | undefined, canon: (v: string) => string | undefined, what: string): string[] {
  return [...new Set((values ?? []).map((v) => {
    const c = canon(v);
    if (!c) throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { detail: `invalid ${what} ${JSON.stringify(v)}` });
    return c;
  }))];
}
