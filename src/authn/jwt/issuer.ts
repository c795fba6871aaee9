/**
 * An issuer after configuration: its checks and a ready key resolver.
 */
import { readFileSync } from 'node:fs';
import type { IssuerConfig } from '../../core/config/authn-schema.ts';
import type { KeyResolver } from './key-resolver.ts';
import { createJwksKeys } from './jwks-keys.ts';
import { createThumbprintKeys } from './thumbprint-keys.ts';
import { createX5cKeys } from './x5c-keys.ts';

export interface CompiledIssuer {
  readonly issuer: string;
  readonly algorithms: readonly string[];
  readonly audiences: readonly string[] | undefined;
  readonly clockSkewSec: number;
  readonly typ: string | undefined;
  readonly keys: KeyResolver;
  /** `directory`: the subject must be an enabled principal of the directory. */
  readonly principals: 'directory' | 'claims';
  readonly rolesClaim: string;
  /** The token's role names as Gatehouse roles (`roleMapping`; as they are without one). */
  readonly mapRoles: (names: readonly string[]) => readonly string[];
  readonly kind: 'user' | 'service';
}

/** Roles taken as the token names them: only for issuers whose roles are replaced by the directory's, or unmapped by choice. */
export const rolesAsNamed = (names: readonly string[]): readonly string[] => names;

/** `roleMapping` as a function: mapped names become their roles, others are dropped. */
export function roleMapper(mapping: Readonly<Record<string, readonly string[]>> | undefined): (names: readonly string[]) => readonly string[] {
  if (mapping === undefined) return rolesAsNamed;
  // Own keys only: a role named "constructor" or "__proto__" maps to nothing.
  const table = new Map(Object.entries(mapping));
  return (names) => [...new Set(names.flatMap((n) => table.get(n) ?? []))];
}

/** Reads the files an issuer's key strategy names; `readText` is replaceable for tests. */
export function compileIssuer(config: IssuerConfig, readText: (path: string) => string = (p) => readFileSync(p, 'utf8')): CompiledIssuer {
  let keys: KeyResolver;
  switch (config.keys.type) {
    case 'jwks': keys = createJwksKeys(config.keys); break;
    case 'x5t#S256': keys = createThumbprintKeys(config.keys.certificateFiles.map(readText)); break;
    case 'x5c': keys = createX5cKeys({ caPems: config.keys.caFiles.map(readText), maxChainLength: config.keys.maxChainLength }); break;
  }
  return {
    issuer: config.issuer,
    algorithms: config.algorithms,
    audiences: config.audiences,
    clockSkewSec: config.clockSkewSec,
    typ: config.typ,
    keys,
    principals: config.principals,
    rolesClaim: config.rolesClaim,
    mapRoles: roleMapper(config.roleMapping),
    kind: config.kind,
  };
}
