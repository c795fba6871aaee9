/**
 * `ca init`: creates the root and the intermediate, seals both keys under the master key,
 * has the root sign the (empty) CRL that covers the intermediate for its whole life, and
 * stores it all once. A second init is refused, so a running CA is never replaced by
 * accident.
 */
import { webcrypto } from 'node:crypto';
import type { Logger } from 'pino';
import { GatehouseError } from '../core/errors.ts';
import type { PkiConfig } from '../core/config/pki-schema.ts';
import { caAlgorithm } from './algorithms.ts';
import { createIntermediateCertificate, createRootCertificate, generateCaKeyPair } from './ca-certificates.ts';
import { buildCrl, crlToPem } from './crl-builder.ts';
import { emitSafely, type PkiEventListener } from './events.ts';
import { sealPrivateKey } from './key-sealing.ts';
import type { CaRecord, PkiRepository } from './repository.ts';
import { normalizeSerial } from './serial.ts';

export interface InitCaOptions {
  repo: PkiRepository;
  masterKey: Uint8Array;
  config: PkiConfig;
  logger?: Logger;
  onEvent?: PkiEventListener;
  now?: Date;
}

export interface InitCaResult {
  rootCertPem: string;
  intermediateCertPem: string;
  rootSerial: string;
  intermediateSerial: string;
}

/**
 * Initializes the CA in the store.
 * @throws GatehouseError ERR_PKI_ALREADY_INITIALIZED
 */
export async function initCa(options: InitCaOptions): Promise<InitCaResult> {
  if (await options.repo.getCa()) throw new GatehouseError('ERR_PKI_ALREADY_INITIALIZED');
  const { config } = options;
  const kind = config.keyAlgorithm;
  const now = options.now ?? new Date();
  // Backdated like leaves, so hosts whose clocks lag a little accept a brand-new CA.
  const notBefore = new Date(now.getTime() - config.backdateSeconds * 1000);

  const rootKeys = await generateCaKeyPair(kind);
  const root = await createRootCertificate({ keys: rootKeys, kind, trustDomain: config.trustDomain, now: notBefore, lifetimeDays: config.rootLifetimeDays });
  const intermediateKeys = await generateCaKeyPair(kind);
  const intermediate = await createIntermediateCertificate({
    publicKey: intermediateKeys.publicKey, root, rootKey: rootKeys.privateKey, kind,
    trustDomain: config.trustDomain, now: notBefore, lifetimeDays: config.intermediateLifetimeDays,
  });
  const rootCrl = await buildCrl({
    issuer: root, signingKey: rootKeys.privateKey, signingAlgorithm: caAlgorithm(kind),
    number: 1, thisUpdate: notBefore, nextUpdate: intermediate.notAfter, entries: [],
  });

  const exportKey = async (key: webcrypto.CryptoKey) => new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', key));
  const record: CaRecord = {
    keyAlgorithm: kind,
    rootCertPem: root.toString('pem') + '\n',
    rootKeySealed: sealPrivateKey(await exportKey(rootKeys.privateKey), options.masterKey, 'root'),
    intermediateCertPem: intermediate.toString('pem') + '\n',
    intermediateKeySealed: sealPrivateKey(await exportKey(intermediateKeys.privateKey), options.masterKey, 'intermediate'),
    rootCrlPem: crlToPem(rootCrl.rawData),
    createdAt: now,
    previousIntermediates: [],
    pendingRoot: null,
    previousRoots: [],
  };
  await options.repo.insertCa(record);
  const result: InitCaResult = {
    rootCertPem: record.rootCertPem,
    intermediateCertPem: record.intermediateCertPem,
    rootSerial: normalizeSerial(root.serialNumber)!,
    intermediateSerial: normalizeSerial(intermediate.serialNumber)!,
  };
  options.logger?.info({ rootSerial: result.rootSerial, intermediateSerial: result.intermediateSerial, trustDomain: config.trustDomain }, 'certificate authority initialized');
  emitSafely(options.onEvent, { type: 'pki.ca.initialized', rootSerial: result.rootSerial, intermediateSerial: result.intermediateSerial, keyAlgorithm: kind });
  return result;
}
