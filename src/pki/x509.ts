/**
 * The one entry point to `@peculiar/x509` in Gatehouse.
 *
 * The library resolves its algorithm registry through tsyringe, which needs a Reflect
 * polyfill loaded before it; and it must use Node's WebCrypto, not a global that some
 * other module might replace. Importing it from here guarantees both.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type ProviderCrypto = ReturnType<typeof x509.cryptoProvider.get>;
x509.cryptoProvider.set(webcrypto as unknown as ProviderCrypto);

export { x509 };
/** Node's WebCrypto SubtleCrypto. */
export const subtle: webcrypto.SubtleCrypto = webcrypto.subtle;
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
