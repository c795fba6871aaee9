import type { KeyObject } from 'node:crypto';
import type { JWTHeaderParameters, FlattenedJWSInput, CryptoKey } from 'jose';

/**
 * Finds the verification key for a token from its protected header. Throws a GatehouseError
 * (ERR_AUTHN_TOKEN_KEY_UNKNOWN, ERR_AUTHN_TOKEN_CHAIN_UNTRUSTED, ERR_AUTHN_KEYS_UNAVAILABLE).
 * Never follows `jku` or `x5u`: keys come only from configuration.
 */
export type KeyResolver = (header: JWTHeaderParameters, token: FlattenedJWSInput) => Promise<KeyObject | CryptoKey>;
