/**
 * `ca rotate-intermediate`: the root signs a new intermediate, which issues every certificate
 * from then on. The one it replaces is not revoked: it stays in the trust (bundle, chains,
 * `/trust`) and keeps signing CRLs for the certificates it issued until it expires, so no
 * certificate in use breaks; workloads move to the new intermediate at their next renewal.
 *
 * The root key is the one `ca init` sealed in the store, or, once it was taken offline
 * (`ca export-root --remove`), the exported key file the operator brings back for this one
 * command; it is used in memory and never stored again. The root re-signs its CRL so that it
 * covers the new intermediate for its whole life (it is the only other thing the root signs).
 * Every instance picks the rotation up from the store when the command's event reaches it on the
 * bus (ca-change-subscription.ts), or at its next CRL refresh.
 */
import { createPrivateKey, createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber, id_ce_cRLNumber } from '@peculiar/asn1-x509';
import type { Logger } from 'pino';
import type { PkiConfig } from '../core/config/pki-schema.ts';
import { GatehouseError } from '../core/errors.ts';
import { caAlgorithm, caImportAlgorithm, caKeyAlgorithmOf } from './algorithms.ts';
import { createIntermediateCertificate, generateCaKeyPair } from './ca-certificates.ts';
import { buildCrl, crlToPem, type CrlEntryInput, type RevocationReason } from './crl-builder.ts';
import { emitSafely, type PkiEventListener } from './events.ts';
import { sealPrivateKey, unsealPrivateKey } from './key-sealing.ts';
import type { PkiRepository } from './repository.ts';
import { normalizeSerial } from './serial.ts';
import { x509 } from './x509.ts';

export interface RotateIntermediateOptions {
  repo: PkiRepository;
  masterKey: Uint8Array;
  config: PkiConfig;
  /** The exported root key (PKCS#8 PEM), required when the root is offline. */
  rootKeyPem?: string;
  /** Passphrase of an encrypted `rootKeyPem`. */
  passphrase?: string;
  /**
   * The replaced intermediates' keys are no longer trusted (one leaked): they leave the trust at
   * once and the root's CRL lists them revoked, so a chain through one fails wherever it is
   * presented; every certificate they issued stops verifying and cannot renew (workloads need
   * a bootstrap token again).
   */
  retirePrevious?: boolean;
  logger?: Logger;
  onEvent?: PkiEventListener;
  now?: Date;
}

export interface RotateIntermediateResult {
  intermediateSerial: string;
  notAfter: Date;
  previousSerial: string;
  /** Previous intermediates still trusted (each until it expires), newest first. */
  retained: { serial: string; notAfter: Date }[];
  /** With `retirePrevious`: the intermediates taken out of the trust (those the root signed also revoked on its CRL). */
  retired: string[];
  /** Where the root key came from. */
  rootKey: 'store' | 'file';
}

const serialOf = (cert: x509.X509Certificate) => normalizeSerial(cert.serialNumber) ?? cert.serialNumber;

/** The root private key as PKCS#8 DER, checked against the root certificate. */
function rootKeyPkcs8(options: RotateIntermediateOptions, sealed: string | null, rootCert: x509.X509Certificate): { pkcs8: Uint8Array; from: 'store' | 'file' } {
  let key: KeyObject;
  let from: 'store' | 'file';
  if (options.rootKeyPem !== undefined) {
    try {
      key = createPrivateKey({ key: options.rootKeyPem, format: 'pem', ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}) });
    } catch (cause) {
      throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: 'the root key file cannot be read (not a PKCS#8 PEM key, or a wrong or missing passphrase)', cause });
    }
    from = 'file';
  } else if (sealed !== null) {
    const der = unsealPrivateKey(sealed, options.masterKey, 'root');
    try { key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' }); } finally { der.fill(0); }
    from = 'store';
  } else {
    throw new GatehouseError('ERR_PKI_ROOT_KEY_OFFLINE', {
      publicMessage: 'The root key is offline (exported with `ca export-root --remove`): give the exported key file with --root-key FILE and its passphrase with --passphrase-env VAR',
    });
  }
  // A key of another CA would sign an intermediate nobody trusts, and the CA would stop issuing.
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  if (!Buffer.from(spki).equals(Buffer.from(rootCert.publicKey.rawData))) {
    throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: 'the root key file is not the key of this CA\'s root certificate' });
  }
  return { pkcs8: new Uint8Array(key.export({ format: 'der', type: 'pkcs8' })), from };
}

/**
 * Creates a new issuing intermediate signed by the root and stores it.
 * @throws GatehouseError ERR_PKI_NOT_INITIALIZED | ERR_PKI_ROOT_KEY_OFFLINE | ERR_ADMIN_INPUT_INVALID (root key file) | ERR_STORE_CONFLICT (a rotation ran at the same time)
 */
export async function rotateIntermediate(options: RotateIntermediateOptions): Promise<RotateIntermediateResult> {
  const ca = await options.repo.getCa();
  if (!ca) throw new GatehouseError('ERR_PKI_NOT_INITIALIZED', { detail: 'run `gatehouse ca init` first' });
  const { config } = options;
  const now = options.now ?? new Date();
  const notBefore = new Date(now.getTime() - config.backdateSeconds * 1000);
  const root = new x509.X509Certificate(ca.rootCertPem);
  // The root's own key type, which the new intermediate follows (a root rotation may have changed it).
  const kind = caKeyAlgorithmOf(root);
  const current = new x509.X509Certificate(ca.intermediateCertPem);

  const { pkcs8, from } = rootKeyPkcs8(options, ca.rootKeySealed, root);
  let rootKey: webcrypto.CryptoKey;
  try {
    rootKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, caImportAlgorithm(kind), false, ['sign']);
  } finally {
    pkcs8.fill(0);
  }

  const keys = await generateCaKeyPair(kind);
  const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  const tag = Buffer.from(await webcrypto.subtle.digest('SHA-256', spki)).toString('hex').slice(0, 8);
  const intermediate = await createIntermediateCertificate({
    publicKey: keys.publicKey, root, rootKey, kind, trustDomain: config.trustDomain, now: notBefore,
    lifetimeDays: config.intermediateLifetimeDays, commonName: `Gatehouse Intermediate CA ${notBefore.toISOString().slice(0, 10)} ${tag}`,
  });
  // The replaced intermediate and earlier ones stay until they expire: their certificates may be in use.
  const replaced = [{ certPem: ca.intermediateCertPem, keySealed: ca.intermediateKeySealed }, ...ca.previousIntermediates]
    .filter((p) => new x509.X509Certificate(p.certPem).notAfter.getTime() > now.getTime());
  // Unless their keys are no longer trusted: then they go, and the root says so on its CRL —
  // a peer presents its intermediate with its chain, and the root's signature on it still holds.
  const previous = options.retirePrevious === true ? [] : replaced;
  const retiredCerts = options.retirePrevious === true ? replaced.map((p) => new x509.X509Certificate(p.certPem)) : [];
  const retired = retiredCerts.map(serialOf);
  // Only what this root signed can be revoked on its CRL. Intermediates of a root replaced by
  // `ca rotate-root` are out of the trust with it: that root only stays while a trusted
  // intermediate of its own is left (ca-material.ts), and none is now.
  const revocable: string[] = [];
  for (const cert of retiredCerts) {
    if (cert.issuer === root.subject && await cert.verify({ publicKey: root, signatureOnly: true })) revocable.push(serialOf(cert));
  }
  const previousCerts = previous.map((p) => new x509.X509Certificate(p.certPem));
  // Valid while any intermediate it vouches for or revokes may still be presented.
  const nextUpdate = new Date(Math.max(intermediate.notAfter.getTime(), ...previousCerts.map((c) => c.notAfter.getTime()), latestEnd(ca, now)));
  const rootCrl = await buildCrl({
    issuer: root, signingKey: rootKey, signingAlgorithm: caAlgorithm(kind),
    number: rootCrlNumber(ca.rootCrlPem) + 1, thisUpdate: notBefore, nextUpdate,
    // What the root revoked before stays revoked: a re-signed CRL without it would un-revoke it.
    entries: [...rootCrlEntries(ca.rootCrlPem), ...revocable.map((serial) => ({ serial, revokedAt: now, reason: 'keyCompromise' as const }))],
  });

  const pkcs8New = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  let keySealed: string;
  try { keySealed = sealPrivateKey(pkcs8New, options.masterKey, 'intermediate'); } finally { pkcs8New.fill(0); }
  const stored = await options.repo.rotateIntermediate({
    expectedIntermediateCertPem: ca.intermediateCertPem, intermediateCertPem: intermediate.toString('pem') + '\n',
    intermediateKeySealed: keySealed, previousIntermediates: previous, rootCrlPem: crlToPem(rootCrl.rawData),
  });
  if (!stored) throw new GatehouseError('ERR_STORE_CONFLICT', { detail: 'another rotation of the intermediate ran at the same time; it is in force (see `cert inspect` / the trust bundle), nothing was changed by this one' });

  const result: RotateIntermediateResult = {
    intermediateSerial: serialOf(intermediate), notAfter: intermediate.notAfter, previousSerial: serialOf(current),
    retained: previousCerts.map((c) => ({ serial: serialOf(c), notAfter: c.notAfter })), retired, rootKey: from,
  };
  options.logger?.warn({ intermediateSerial: result.intermediateSerial, previousSerial: result.previousSerial, notAfter: result.notAfter, rootKey: from, retired }, retired.length > 0 ? 'intermediate CA rotated; the replaced intermediates are revoked and no longer trusted' : 'intermediate CA rotated');
  emitSafely(options.onEvent, { type: 'pki.ca.intermediate_rotated', intermediateSerial: result.intermediateSerial, previousSerial: result.previousSerial, notAfter: result.notAfter.toISOString() });
  return result;
}

/** The entries of the root's CRL as it stands (intermediates it revoked). */
function rootCrlEntries(pem: string): CrlEntryInput[] {
  return new x509.X509Crl(pem).entries.map((e) => ({ serial: normalizeSerial(e.serialNumber) ?? e.serialNumber, revokedAt: e.revocationDate, reason: reasonName(e.reason) }));
}

function reasonName(code: number | undefined): RevocationReason {
  const names: Record<number, RevocationReason> = { 1: 'keyCompromise', 3: 'affiliationChanged', 4: 'superseded', 5: 'cessationOfOperation', 9: 'privilegeWithdrawn' };
  return (code !== undefined ? names[code] : undefined) ?? 'unspecified';
}

/**
 * Until when a root CRL listing revoked intermediates must stay valid: the end of the latest
 * intermediate the root signed that is known here — a revoked one is a threat until it expires.
 */
function latestEnd(ca: { intermediateCertPem: string; previousIntermediates: { certPem: string }[] }, now: Date): number {
  return Math.max(now.getTime(), ...[ca.intermediateCertPem, ...ca.previousIntermediates.map((p) => p.certPem)].map((pem) => new x509.X509Certificate(pem).notAfter.getTime()));
}

function rootCrlNumber(pem: string): number {
  const ext = new x509.X509Crl(pem).getExtension(id_ce_cRLNumber);
  return ext ? AsnConvert.parse(ext.value, CRLNumber).value : 1;
}
