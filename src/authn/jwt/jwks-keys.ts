/**
 * JWKS key strategy: jose's remote JWKS resolver (cached, refetched on an unknown `kid` at
 * most once per cooldown, redirects refused), with an optional private CA for the endpoint.
 */
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, customFetch, type FetchImplementation, type JSONWebKeySet, createLocalJWKSet } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { GatehouseError } from '../../core/errors.ts';
import { boundedFetch } from '../../core/http/bounded-fetch.ts';
import type { KeyResolver } from './key-resolver.ts';

export interface JwksKeysOptions {
  url: string;
  caFile?: string | undefined;
  cacheMaxAgeMs: number;
  cooldownMs: number;
  timeoutMs: number;
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** Translates jose's key-selection errors into Gatehouse codes; anything else means the keys could not be had. */
function wrap(resolve: KeyResolver, source: string): KeyResolver {
  return async (header, token) => {
    try {
      return await resolve(header, token);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ERR_JWKS_NO_MATCHING_KEY' || code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') {
        throw new GatehouseError('ERR_AUTHN_TOKEN_KEY_UNKNOWN', { detail: `no single key in ${source} for kid=${JSON.stringify(header.kid)} alg=${header.alg}`, cause: error });
      }
      throw new GatehouseError('ERR_AUTHN_KEYS_UNAVAILABLE', { detail: `JWKS ${source}: ${error instanceof Error ? error.message : String(error)}`, cause: error });
    }
  };
}

/** Creates a resolver over a remote JWKS endpoint. */
export function createJwksKeys(options: JwksKeysOptions): KeyResolver {
  const jwksOptions: Parameters<typeof createRemoteJWKSet>[1] = {
    cacheMaxAge: options.cacheMaxAgeMs,
    cooldownDuration: options.cooldownMs,
    timeoutDuration: options.timeoutMs,
  };
  let fetchKeys: typeof fetch = fetch;
  if (options.caFile !== undefined) {
    const dispatcher = new Agent({ connect: { ca: readFileSync(options.caFile, 'utf8') } });
    // undici's Headers/Response types differ nominally from the DOM ones jose declares; same objects at runtime.
    fetchKeys = ((url: string, init: RequestInit) =>
      undiciFetch(url, { method: init.method, redirect: init.redirect, signal: init.signal, headers: Object.fromEntries(new Headers(init.headers)), dispatcher })) as unknown as typeof fetch;
  }
  // jose reads the whole answer before parsing it: an issuer's endpoint answering with gigabytes must not exhaust the gateway's memory.
  jwksOptions[customFetch] = boundedFetch(fetchKeys) as unknown as FetchImplementation;
  const remote = createRemoteJWKSet(new URL(options.url), jwksOptions);
  return wrap((header, token) => remote(header, token), options.url);
}

/**
 * Creates a resolver over a key set held in process (Gatehouse's own IdP keys), read again on
 * every miss so that rotation is picked up without a fetch. `onUnknownKid`, when given, is asked
 * on a kid the set lacks whether the set changed (a key made by another instance); the key is
 * then looked up once more.
 */
export function createLocalJwksKeys(getJwks: () => JSONWebKeySet, source = 'local JWKS', onUnknownKid?: () => Promise<boolean>): KeyResolver {
  let current: JSONWebKeySet | undefined;
  let resolver: ReturnType<typeof createLocalJWKSet> | undefined;
  const resolve: KeyResolver = async (header, token) => {
    const jwks = getJwks();
    if (jwks !== current || resolver === undefined) { current = jwks; resolver = createLocalJWKSet(jwks); }
    return resolver(header, token);
  };
  return wrap(async (header, token) => {
    try {
      return await resolve(header, token);
    } catch (error) {
      if (onUnknownKid === undefined || errorCode(error) !== 'ERR_JWKS_NO_MATCHING_KEY' || !(await onUnknownKid())) throw error;
      return resolve(header, token);
    }
  }, source);
}
