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
  readonly kind: 'user' | 'service';
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
    kind: config.kind,
  };
}
