/**
 * The CA's signing material as read from the store (intermediates with their unsealed keys,
 * the roots and their CRLs), and the reload that follows a rotation made elsewhere.
 */
import { webcrypto } from 'node:crypto';
import type { Logger } from 'pino';
import { GatehouseError } from '../core/errors.ts';
import { caImportAlgorithm, caKeyAlgorithmOf, type CaKeyAlgorithm } from './algorithms.ts';
import { unsealPrivateKey } from './key-sealing.ts';
import type { CaRecord, PkiRepository } from './repository.ts';
import { rootsStillNeeded } from './root-rotation.ts';
import { normalizeSerial } from './serial.ts';
import { TrustStore } from './trust-store.ts';
import { x509 } from './x509.ts';

/** An intermediate this instance can sign with. */
export interface SigningIntermediate {
  cert: x509.X509Certificate;
  pem: string;
  key: webcrypto.CryptoKey;
  /** Subject key identifier (hex): matches the authority key identifier of its CRLs. */
  keyId: string;
  /** Its own key type: after a root rotation with `--key-type` the CA signs with keys of both kinds. */
  algorithm: CaKeyAlgorithm;
}

/**
 * The CA material as last read from the store. Replaced as a whole (never patched) when
 * `reload` finds a rotation, so one operation always signs and chains with one intermediate.
 */
export interface CaState {
  record: CaRecord;
  issuing: SigningIntermediate;
  /** Previous intermediates that have not expired: trusted, sign CRLs, issue nothing. */
  previous: SigningIntermediate[];
  anchors: TrustStore;
  /** The CRLs of every trusted root (in force, pending, previous): each covers the intermediates it signed. */
  rootCrlPems: string[];
}

async function signingIntermediate(pem: string, sealed: string, masterKey: Uint8Array): Promise<SigningIntermediate> {
  const cert = new x509.X509Certificate(pem);
  const keyId = cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId ?? '';
  const kind = caKeyAlgorithmOf(cert);
  const pkcs8 = unsealPrivateKey(sealed, masterKey, 'intermediate');
  try {
    // Imported non-extractable: nothing in this process can read it back out.
    const key = await webcrypto.subtle.importKey('pkcs8', pkcs8, caImportAlgorithm(kind), false, ['sign']);
    return { cert, pem, key, keyId, algorithm: kind };
  } finally {
    pkcs8.fill(0);
  }
}

async function loadState(ca: CaRecord, masterKey: Uint8Array, trustDomain: string, now: Date): Promise<CaState> {
  const issuing = await signingIntermediate(ca.intermediateCertPem, ca.intermediateKeySealed, masterKey);
  // An expired intermediate is left out: no certificate it issued outlives it.
  const previous = await Promise.all(ca.previousIntermediates
    .filter((p) => new x509.X509Certificate(p.certPem).notAfter.getTime() > now.getTime())
    .map((p) => signingIntermediate(p.certPem, p.keySealed, masterKey)));
  // Roots: the one in force; one prepared by `ca rotate-root` (trusted before it issues, so that
  // relying parties have it when it does); replaced ones while an intermediate they signed is trusted.
  const previousRoots = await rootsStillNeeded(ca.previousRoots, previous.map((p) => p.cert), now);
  const roots = [{ certPem: ca.rootCertPem, crlPem: ca.rootCrlPem }, ...(ca.pendingRoot ? [{ certPem: ca.pendingRoot.rootCertPem, crlPem: ca.pendingRoot.rootCrlPem }] : []), ...previousRoots];
  const rootCrlPems = roots.map((r) => r.crlPem);
  const anchors = new TrustStore({ trustDomain, rootPems: roots.map((r) => r.certPem), intermediatePems: [issuing.pem, ...previous.map((p) => p.pem)], crlPems: rootCrlPems });
  return { record: ca, issuing, previous, anchors, rootCrlPems };
}

function sameCa(a: CaRecord, b: CaRecord): boolean {
  return a.intermediateCertPem === b.intermediateCertPem && a.rootCrlPem === b.rootCrlPem && a.rootCertPem === b.rootCertPem
    && a.pendingRoot?.rootCertPem === b.pendingRoot?.rootCertPem
    && a.previousRoots.map((r) => r.certPem).join() === b.previousRoots.map((r) => r.certPem).join()
    && a.previousIntermediates.map((p) => p.certPem).join() === b.previousIntermediates.map((p) => p.certPem).join();
}

export interface CaMaterialOptions {
  repo: PkiRepository;
  masterKey: Uint8Array;
  trustDomain: string;
  clock: () => Date;
  logger: Logger | undefined;
}

export class CaMaterial {
  readonly #options: CaMaterialOptions;
  #state: CaState;
  #generation = 0;

  private constructor(options: CaMaterialOptions, state: CaState) {
    this.#options = options;
    this.#state = state;
  }

  /** @throws GatehouseError ERR_PKI_NOT_INITIALIZED | ERR_PKI_KEY_UNSEAL_FAILED */
  static async open(options: CaMaterialOptions): Promise<CaMaterial> {
    const ca = await options.repo.getCa();
    if (!ca) throw new GatehouseError('ERR_PKI_NOT_INITIALIZED', { detail: 'run `gatehouse ca init` first' });
    return new CaMaterial(options, await loadState(ca, options.masterKey, options.trustDomain, options.clock()));
  }

  /** The material as last read: read it again after any await, a reload may have replaced it. */
  get state(): CaState {
    return this.#state;
  }

  /** `CertificateAuthority.reload`: @returns true when the material changed. */
  async reload(): Promise<boolean> {
    const { repo, masterKey, trustDomain, clock, logger } = this.#options;
    const ca = await repo.getCa();
    if (!ca || sameCa(ca, this.#state.record)) return false;
    this.#state = await loadState(ca, masterKey, trustDomain, clock());
    this.#generation++;
    logger?.info({
      intermediateSerial: normalizeSerial(this.#state.issuing.cert.serialNumber), previous: this.#state.previous.length,
      rootSerial: this.root.serial, roots: this.#state.anchors.roots.length,
    }, 'certificate authority material reloaded (intermediate or root rotated)');
    return true;
  }

  /** How many changes `reload` found (`CertificateAuthority.generation`). */
  get generation(): number {
    return this.#generation;
  }

  /** Serial and expiry of the issuing intermediate. */
  get issuingIntermediate(): { serial: string; notAfter: Date } {
    const cert = this.#state.issuing.cert;
    return { serial: normalizeSerial(cert.serialNumber) ?? cert.serialNumber, notAfter: cert.notAfter };
  }

  /** Serial and expiry of the root in force. */
  get root(): { serial: string; notAfter: Date } {
    const cert = new x509.X509Certificate(this.#state.record.rootCertPem);
    return { serial: normalizeSerial(cert.serialNumber) ?? cert.serialNumber, notAfter: cert.notAfter };
  }
}
