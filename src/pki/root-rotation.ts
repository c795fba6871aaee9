/**
 * `ca rotate-root`: replaces the root CA in two steps, so that no relying party ever meets a
 * certificate it cannot verify.
 *
 *   1. prepare (`ca rotate-root`): a new self-signed root and an intermediate it signs are made
 *      and stored as pending. Once announced on the bus (or from the next refresh) every instance,
 *      and from its next refresh every workload, trusts the new
 *      root next to the current one (`/bundle`, `/trust`, TLS endpoints); nothing is issued
 *      under it yet. Relying parties outside Gatehouse are handed the new bundle meanwhile.
 *   2. activate (`ca rotate-root --activate`, not before `pki.rootRotationMinWaitSeconds`): the
 *      pending root and intermediate are put in force. The intermediate issues every
 *      certificate from then on; workloads move to it at their next renewal. The replaced root
 *      stays trusted (certificate and CRL) while an intermediate it signed is — those keep
 *      signing CRLs for what they issued, as after `ca rotate-intermediate` — and its key, when
 *      it was still in the store, is gone: nothing is signed with it again.
 *
 * Until step 2, `ca rotate-root --cancel` withdraws the prepared root (a mistake, or its key
 * exposed): its key is deleted and relying parties stop trusting it at their next refresh.
 *
 * No cross-certificate is made: step 1 is what a cross-signature would buy (chains to the new
 * root verifying where only the old one is trusted), without a certificate that ties the two
 * roots together for the old root's whole life. The new root's key is sealed in the store like
 * `ca init`'s; take it offline again with `ca export-root --remove` after activation.
 */
import { webcrypto } from 'node:crypto';
import { GatehouseError } from '../core/errors.ts';
import { caAlgorithm, caKeyAlgorithmOf, type CaKeyAlgorithm } from './algorithms.ts';
import { createIntermediateCertificate, createRootCertificate, generateCaKeyPair } from './ca-certificates.ts';
import { buildCrl, crlToPem } from './crl-builder.ts';
import type { InitCaOptions } from './ca-init.ts';
import { emitSafely } from './events.ts';
import { sealPrivateKey, unsealPrivateKey } from './key-sealing.ts';
import type { CaRecord, PendingRoot, PkiRepository, PreviousIntermediate, PreviousRoot } from './repository.ts';
import { normalizeSerial } from './serial.ts';
import { x509 } from './x509.ts';

/** What `ca init` takes: the store, the master key, the configuration, and where to report. */
export type RootRotationOptions = InitCaOptions;

export interface PrepareRootOptions extends RootRotationOptions {
  /**
   * Key type of the new root and its intermediate (`--key-type`), to move to a stronger key at a
   * root rotation; default: the current root's. Intermediates rotated later follow the root in force.
   */
  keyType?: CaKeyAlgorithm;
}

export interface PrepareRootResult {
  rootSerial: string;
  rootNotAfter: Date;
  intermediateSerial: string;
  /** Key type of the new root and its intermediate. */
  keyAlgorithm: CaKeyAlgorithm;
  /** Key type of the root still in force. */
  currentKeyAlgorithm: CaKeyAlgorithm;
  /** The root still in force. */
  currentRootSerial: string;
  /** Every root relying parties must trust from now on (current and new), PEM. */
  trustBundlePem: string;
  /** The earliest time `--activate` accepts without `--force`. */
  activateAfter: Date;
}

export interface ActivateRootResult {
  rootSerial: string;
  intermediateSerial: string;
  /** Key type of the root now in force (and of the intermediates rotated under it). */
  keyAlgorithm: CaKeyAlgorithm;
  previousRootSerial: string;
  /** Roots still trusted next to the new one (each while an intermediate it signed is). */
  retainedRoots: { serial: string; notAfter: Date }[];
  /** Whether the replaced root's key was in the store (and is now gone from it). */
  previousRootKeyDropped: boolean;
}

const serialOf = (cert: x509.X509Certificate) => normalizeSerial(cert.serialNumber) ?? cert.serialNumber;
const pem = (cert: x509.X509Certificate) => cert.toString('pem') + '\n';

async function caOf(repo: PkiRepository): Promise<CaRecord> {
  const ca = await repo.getCa();
  if (!ca) throw new GatehouseError('ERR_PKI_NOT_INITIALIZED', { detail: 'run `gatehouse ca init` first' });
  return ca;
}

/** A distinct name per CA certificate: `<what> <date> <first 8 hex of the SHA-256 of its key>`. */
async function taggedName(what: string, publicKey: webcrypto.CryptoKey, at: Date): Promise<string> {
  const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', publicKey));
  const tag = Buffer.from(await webcrypto.subtle.digest('SHA-256', spki)).toString('hex').slice(0, 8);
  return `${what} ${at.toISOString().slice(0, 10)} ${tag}`;
}

async function sealed(key: webcrypto.CryptoKey, masterKey: Uint8Array, label: 'root' | 'intermediate'): Promise<string> {
  const pkcs8 = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', key));
  try { return sealPrivateKey(pkcs8, masterKey, label); } finally { pkcs8.fill(0); }
}

/**
 * Step 1: makes the next root and its intermediate and stores them as pending.
 * @throws GatehouseError ERR_PKI_NOT_INITIALIZED | ERR_PKI_ROOT_ROTATION_PENDING | ERR_STORE_CONFLICT
 */
export async function prepareRootRotation(options: PrepareRootOptions): Promise<PrepareRootResult> {
  const ca = await caOf(options.repo);
  const current = new x509.X509Certificate(ca.rootCertPem);
  if (ca.pendingRoot !== null) {
    const pending = new x509.X509Certificate(ca.pendingRoot.rootCertPem);
    throw new GatehouseError('ERR_PKI_ROOT_ROTATION_PENDING', {
      publicMessage: `root ${serialOf(pending)} was prepared at ${ca.pendingRoot.preparedAt.toISOString()} and waits for \`gatehouse ca rotate-root --activate\``,
    });
  }
  const { config } = options;
  // Kept unless asked otherwise. Each key is later imported by the type its certificate names,
  // so the intermediates of the replaced root keep signing CRLs with theirs.
  const currentKind = caKeyAlgorithmOf(current);
  const kind = options.keyType ?? currentKind;
  const now = options.now ?? new Date();
  const notBefore = new Date(now.getTime() - config.backdateSeconds * 1000);
  const rootKeys = await generateCaKeyPair(kind);
  const root = await createRootCertificate({
    keys: rootKeys, kind, trustDomain: config.trustDomain, now: notBefore, lifetimeDays: config.rootLifetimeDays,
    commonName: await taggedName('Gatehouse Root CA', rootKeys.publicKey, notBefore),
  });
  const intermediateKeys = await generateCaKeyPair(kind);
  const intermediate = await createIntermediateCertificate({
    publicKey: intermediateKeys.publicKey, root, rootKey: rootKeys.privateKey, kind, trustDomain: config.trustDomain,
    now: notBefore, lifetimeDays: config.intermediateLifetimeDays,
    commonName: await taggedName('Gatehouse Intermediate CA', intermediateKeys.publicKey, notBefore),
  });
  // Published with the root from step 1: OpenSSL wants a CRL for every CA of a chain, and a
  // workload refuses trust material with a CA no CRL covers.
  const rootCrl = await buildCrl({
    issuer: root, signingKey: rootKeys.privateKey, signingAlgorithm: caAlgorithm(kind),
    number: 1, thisUpdate: notBefore, nextUpdate: intermediate.notAfter, entries: [],
  });
  const pendingRoot: PendingRoot = {
    rootCertPem: pem(root), rootKeySealed: await sealed(rootKeys.privateKey, options.masterKey, 'root'), rootCrlPem: crlToPem(rootCrl.rawData),
    intermediateCertPem: pem(intermediate), intermediateKeySealed: await sealed(intermediateKeys.privateKey, options.masterKey, 'intermediate'),
    preparedAt: now,
  };
  if (!(await options.repo.prepareRoot({ expectedRootCertPem: ca.rootCertPem, pendingRoot }))) {
    throw new GatehouseError('ERR_STORE_CONFLICT', { detail: 'another root rotation ran at the same time; it is in force, nothing was changed by this one' });
  }
  const result: PrepareRootResult = {
    rootSerial: serialOf(root), rootNotAfter: root.notAfter, intermediateSerial: serialOf(intermediate), keyAlgorithm: kind, currentKeyAlgorithm: currentKind, currentRootSerial: serialOf(current),
    trustBundlePem: ca.rootCertPem + pendingRoot.rootCertPem,
    activateAfter: new Date(now.getTime() + config.rootRotationMinWaitSeconds * 1000),
  };
  options.logger?.warn({ rootSerial: result.rootSerial, currentRootSerial: result.currentRootSerial, keyAlgorithm: kind, activateAfter: result.activateAfter }, 'root CA rotation prepared: the new root is trusted from now on and issues nothing until activated');
  emitSafely(options.onEvent, { type: 'pki.ca.root_rotation_prepared', rootSerial: result.rootSerial, currentRootSerial: result.currentRootSerial, notAfter: root.notAfter.toISOString(), keyAlgorithm: kind, currentKeyAlgorithm: currentKind });
  return result;
}

export interface CancelRootResult {
  /** The withdrawn root. */
  rootSerial: string;
}

/**
 * Withdraws the prepared root before it is activated.
 * @throws GatehouseError ERR_PKI_NOT_INITIALIZED | ERR_PKI_ROOT_ROTATION_NOT_READY (nothing prepared) | ERR_STORE_CONFLICT
 */
export async function cancelRootRotation(options: RootRotationOptions): Promise<CancelRootResult> {
  const ca = await caOf(options.repo);
  if (ca.pendingRoot === null) throw new GatehouseError('ERR_PKI_ROOT_ROTATION_NOT_READY', { publicMessage: 'no root rotation is prepared: there is nothing to cancel' });
  const root = new x509.X509Certificate(ca.pendingRoot.rootCertPem);
  if (!(await options.repo.cancelRoot(ca.pendingRoot.rootCertPem))) {
    throw new GatehouseError('ERR_STORE_CONFLICT', { detail: 'the prepared root was activated or cancelled meanwhile; nothing was changed by this one' });
  }
  const result = { rootSerial: serialOf(root) };
  options.logger?.warn(result, 'root CA rotation cancelled: the prepared root is no longer trusted and its key is deleted');
  emitSafely(options.onEvent, { type: 'pki.ca.root_rotation_cancelled', rootSerial: result.rootSerial });
  return result;
}

/** Roots, unexpired, that signed one of `intermediates`: the others have nothing left to vouch for. */
export async function rootsStillNeeded(roots: readonly PreviousRoot[], intermediates: readonly x509.X509Certificate[], now: Date): Promise<PreviousRoot[]> {
  const kept: PreviousRoot[] = [];
  for (const root of roots) {
    const cert = new x509.X509Certificate(root.certPem);
    if (cert.notAfter.getTime() <= now.getTime()) continue;
    for (const intermediate of intermediates) {
      if (intermediate.issuer === cert.subject && await intermediate.verify({ publicKey: cert, signatureOnly: true })) { kept.push(root); break; }
    }
  }
  return kept;
}

export interface ActivateRootOptions extends RootRotationOptions {
  /** Activate before `pki.rootRotationMinWaitSeconds` have passed since step 1. */
  force?: boolean;
  /**
   * The replaced root and its intermediates leave the trust at once (a leaked key): every
   * certificate of the old chain stops verifying and cannot renew (workloads need a bootstrap
   * token again).
   */
  retirePrevious?: boolean;
}

/**
 * Step 2: puts the pending root and its intermediate in force.
 * @throws GatehouseError ERR_PKI_NOT_INITIALIZED | ERR_PKI_ROOT_ROTATION_NOT_READY | ERR_PKI_KEY_UNSEAL_FAILED | ERR_STORE_CONFLICT
 */
export async function activateRootRotation(options: ActivateRootOptions): Promise<ActivateRootResult> {
  const ca = await caOf(options.repo);
  const pending = ca.pendingRoot;
  if (pending === null) {
    throw new GatehouseError('ERR_PKI_ROOT_ROTATION_NOT_READY', { publicMessage: 'no root rotation is prepared: run `gatehouse ca rotate-root` first' });
  }
  const now = options.now ?? new Date();
  const readyAt = pending.preparedAt.getTime() + options.config.rootRotationMinWaitSeconds * 1000;
  if (readyAt > now.getTime() && options.force !== true) {
    throw new GatehouseError('ERR_PKI_ROOT_ROTATION_NOT_READY', {
      publicMessage: `the new root was published at ${pending.preparedAt.toISOString()}; relying parties may not trust it yet. Activate after ${new Date(readyAt).toISOString()} (pki.rootRotationMinWaitSeconds), or with --force once every one of them has the new bundle`,
    });
  }
  const root = new x509.X509Certificate(pending.rootCertPem);
  const intermediate = new x509.X509Certificate(pending.intermediateCertPem);
  // What goes in force must work: keys that open under this master key, an intermediate this root signed, neither expired.
  unsealPrivateKey(pending.rootKeySealed, options.masterKey, 'root').fill(0);
  unsealPrivateKey(pending.intermediateKeySealed, options.masterKey, 'intermediate').fill(0);
  if (!(await intermediate.verify({ publicKey: root, signatureOnly: true })) || intermediate.notAfter.getTime() <= now.getTime()) {
    throw new GatehouseError('ERR_PKI_ROOT_ROTATION_NOT_READY', { publicMessage: 'the prepared root or its intermediate cannot be put in force (expired, or not signed by it): prepare a new rotation' });
  }

  const previousRoot = new x509.X509Certificate(ca.rootCertPem);
  // The intermediates in force stay trusted until they expire: certificates they issued are in
  // use. Retired, they go with the roots that signed them: no anchor is left for their chains.
  const retire = options.retirePrevious === true;
  const previousIntermediates: PreviousIntermediate[] = retire ? [] : [{ certPem: ca.intermediateCertPem, keySealed: ca.intermediateKeySealed }, ...ca.previousIntermediates]
    .filter((p) => new x509.X509Certificate(p.certPem).notAfter.getTime() > now.getTime());
  const previousRoots = retire ? [] : await rootsStillNeeded(
    [{ certPem: ca.rootCertPem, crlPem: ca.rootCrlPem }, ...ca.previousRoots],
    previousIntermediates.map((p) => new x509.X509Certificate(p.certPem)), now,
  );
  const stored = await options.repo.activateRoot({
    expectedPendingRootCertPem: pending.rootCertPem, expectedIntermediateCertPem: ca.intermediateCertPem, previousIntermediates, previousRoots,
    keyAlgorithm: caKeyAlgorithmOf(root),
  });
  if (!stored) throw new GatehouseError('ERR_STORE_CONFLICT', { detail: 'the CA changed while the root was being activated (another activation or an intermediate rotation); nothing was changed by this one' });

  const result: ActivateRootResult = {
    rootSerial: serialOf(root), intermediateSerial: serialOf(intermediate), keyAlgorithm: caKeyAlgorithmOf(root), previousRootSerial: serialOf(previousRoot),
    retainedRoots: previousRoots.map((r) => new x509.X509Certificate(r.certPem)).map((c) => ({ serial: serialOf(c), notAfter: c.notAfter })),
    previousRootKeyDropped: ca.rootKeySealed !== null,
  };
  options.logger?.warn({ rootSerial: result.rootSerial, previousRootSerial: result.previousRootSerial, intermediateSerial: result.intermediateSerial }, 'root CA rotated: the new root and its intermediate are in force');
  emitSafely(options.onEvent, { type: 'pki.ca.root_rotated', rootSerial: result.rootSerial, previousRootSerial: result.previousRootSerial, intermediateSerial: result.intermediateSerial });
  return result;
}
