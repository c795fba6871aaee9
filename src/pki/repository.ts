/**
 * What the CA needs from storage. The Gatehouse store implements it on SQLite and
 * PostgreSQL so that several instances share one CA; `MemoryPkiRepository` is the
 * reference implementation for tests and single-shot tools. Every implementation passes
 * the same contract suite (test/pki/repository-contract.ts).
 */
import type { CaKeyAlgorithm } from './algorithms.ts';
import type { RevocationReason } from './crl-builder.ts';

/** The CA's own material. Private keys are sealed (see key-sealing.ts). */
export interface CaRecord {
  /**
   * Key type of the root in force, which `ca rotate-intermediate` gives new intermediates:
   * `pki.keyAlgorithm` at `ca init`, the new root's after `ca rotate-root --key-type … --activate`.
   * Each certificate's key is imported and used by the type its certificate names
   * (`caKeyAlgorithmOf`): replaced intermediates of another type keep signing CRLs.
   */
  keyAlgorithm: CaKeyAlgorithm;
  rootCertPem: string;
  /** Sealed root key; null once the root has been taken offline. */
  rootKeySealed: string | null;
  intermediateCertPem: string;
  intermediateKeySealed: string;
  /** CRL signed by the root for the intermediates, valid as long as the newest of them. */
  rootCrlPem: string;
  createdAt: Date;
  /**
   * Intermediates replaced by `ca rotate-intermediate` that have not expired yet: no longer
   * issuing, but still trusted and still signing CRLs for the certificates they issued.
   * Newest first.
   */
  previousIntermediates: PreviousIntermediate[];
  /**
   * A new root and the intermediate it signed, made by `ca rotate-root` and not in force yet:
   * relying parties already trust the root (bundle, `/trust`) while the CA still issues from
   * the current one, until `ca rotate-root --activate`. Null when no root rotation is under way.
   */
  pendingRoot: PendingRoot | null;
  /**
   * Roots replaced by `ca rotate-root --activate`: trusted (certificate and CRL) while an
   * intermediate they signed is; their keys are gone. Newest first.
   */
  previousRoots: PreviousRoot[];
}

/** The next root, prepared: everything `--activate` puts in force. */
export interface PendingRoot {
  rootCertPem: string;
  rootKeySealed: string;
  /** Signed by the new root, covering its intermediate for its whole life. */
  rootCrlPem: string;
  intermediateCertPem: string;
  intermediateKeySealed: string;
  preparedAt: Date;
}

/** A replaced root: what relying parties need to keep verifying the chains under it. */
export interface PreviousRoot {
  certPem: string;
  crlPem: string;
}

/** What `ca rotate-root` writes: the pending root, only while the root is still `expectedRootCertPem` and none is pending. */
export interface RootPreparation {
  expectedRootCertPem: string;
  pendingRoot: PendingRoot;
}

/**
 * What `ca rotate-root --activate` writes, in one conditional update: the pending root and its
 * intermediate in force, the replaced ones kept as previous. Nothing is written unless the
 * pending root is still `expectedPendingRootCertPem` and the issuing intermediate still `expectedIntermediateCertPem`.
 */
export interface RootActivation {
  expectedPendingRootCertPem: string;
  expectedIntermediateCertPem: string;
  previousIntermediates: PreviousIntermediate[];
  previousRoots: PreviousRoot[];
  /** Key type of the pending root: the CA's from now on (`CaRecord.keyAlgorithm`). */
  keyAlgorithm: CaKeyAlgorithm;
}

/** A retired intermediate, kept until it expires (no certificate it issued outlives it). */
export interface PreviousIntermediate {
  certPem: string;
  keySealed: string;
}

/** What `ca rotate-intermediate` writes, in one conditional update. */
export interface IntermediateRotation {
  /** The intermediate the rotation replaces; nothing is written when it is no longer the issuing one. */
  expectedIntermediateCertPem: string;
  intermediateCertPem: string;
  intermediateKeySealed: string;
  previousIntermediates: PreviousIntermediate[];
  rootCrlPem: string;
}

/** One issued workload certificate. */
export interface CertificateRecord {
  /** Lower-case hex without leading zeros (see normalizeSerial). */
  serial: string;
  spiffeId: string;
  dnsNames: string[];
  ipAddresses: string[];
  notBefore: Date;
  notAfter: Date;
  certPem: string;
  /** How the requester proved its identity. */
  issuedVia: 'bootstrap' | 'renewal' | 'internal';
  createdAt: Date;
  revokedAt: Date | null;
  revocationReason: RevocationReason | null;
  /**
   * Serial of the certificate presented to obtain this one by renewal; null when issued
   * otherwise. Revoking a serial follows this link to every certificate renewed from it
   * (a stolen key renews first). Undefined means the repository does not keep lineage.
   */
  renewedFrom?: string | null;
}

export interface RevokedEntry {
  serial: string;
  revokedAt: Date;
  reason: RevocationReason;
}

/** A signed CRL as served and as read by every instance. */
export interface CrlRecord {
  /** Monotonic CRL number (RFC 5280 §5.2.3); unique. */
  number: number;
  thisUpdate: Date;
  nextUpdate: Date;
  /** Signed by the issuing intermediate. */
  der: Uint8Array;
  /**
   * The same CRL (number, dates, entries) signed by each previous intermediate still in the
   * trust: OpenSSL wants a CRL from the issuer of every certificate it checks.
   */
  previousDers: Uint8Array[];
}

export interface BootstrapTokenRecord {
  /** Public id of the token (for listing and audit); the secret part is never stored. */
  id: string;
  /** SHA-256 of the whole token, hex. */
  tokenHash: string;
  spiffeId: string;
  dnsNames: string[];
  ipAddresses: string[];
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
}

export interface CertificateQuery {
  spiffeId?: string;
  /** Only certificates valid (not expired, not revoked) at this instant. */
  liveAt?: Date;
  /** Only certificates renewed directly from this serial. */
  renewedFrom?: string;
  limit?: number;
}

export interface PkiRepository {
  getCa(): Promise<CaRecord | undefined>;
  /** Stores the CA once. @throws GatehouseError ERR_PKI_ALREADY_INITIALIZED when one exists. */
  insertCa(ca: CaRecord): Promise<void>;
  /** Forgets the sealed root key (offline root). */
  dropRootKey(): Promise<void>;
  /**
   * Makes a new intermediate the issuing one, atomically, only if the issuing one is still
   * `expectedIntermediateCertPem` (two rotations at once: one wins).
   * @returns false when another rotation came first (nothing written).
   */
  rotateIntermediate(rotation: IntermediateRotation): Promise<boolean>;
  /**
   * Stores a pending root, atomically, only if none is pending and the root is still the expected one.
   * @returns false when that no longer holds (nothing written).
   */
  prepareRoot(preparation: RootPreparation): Promise<boolean>;
  /**
   * Puts the pending root and its intermediate in force (root key, CRL, issuing intermediate),
   * clears the pending root and stores the previous roots and intermediates, atomically.
   * @returns false when another rotation came first (nothing written).
   */
  activateRoot(activation: RootActivation): Promise<boolean>;
  /**
   * Forgets the pending root (certificate, key, CRL, intermediate), only if it is still `expectedPendingRootCertPem`.
   * @returns false when no such root is pending (nothing written).
   */
  cancelRoot(expectedPendingRootCertPem: string): Promise<boolean>;

  insertCertificate(record: CertificateRecord): Promise<void>;
  getCertificate(serial: string): Promise<CertificateRecord | undefined>;
  /** Newest first. */
  listCertificates(query: CertificateQuery): Promise<CertificateRecord[]>;
  /**
   * Marks certificates revoked: one serial, or every live certificate of a SPIFFE id.
   * Already revoked certificates are left as they are.
   * @returns the serials revoked by this call.
   */
  revoke(target: { serial: string } | { spiffeId: string }, at: Date, reason: RevocationReason): Promise<string[]>;
  /** Revoked certificates that have not expired at `now` (the CRL's entries). */
  listRevoked(now: Date): Promise<RevokedEntry[]>;

  /** The CRL with the highest number, if any. */
  latestCrl(): Promise<CrlRecord | undefined>;
  /** Stores a CRL; returns false (and stores nothing) when its number is already taken. */
  insertCrl(record: CrlRecord): Promise<boolean>;

  insertBootstrapToken(record: BootstrapTokenRecord): Promise<void>;
  /**
   * Atomically marks the token used and returns it, when it exists, is unused and has not
   * expired at `now`; otherwise returns undefined and changes nothing.
   */
  consumeBootstrapToken(tokenHash: string, now: Date): Promise<BootstrapTokenRecord | undefined>;
  /**
   * The token, when it exists, is unused and has not expired at `now`; changes nothing. Lets the
   * CA learn the identity a token is for (and refuse a blocked one) without spending it.
   */
  findBootstrapToken(tokenHash: string, now: Date): Promise<BootstrapTokenRecord | undefined>;
  /** Bootstrap tokens, newest first, used and expired ones included. */
  listBootstrapTokens(query: BootstrapTokenQuery): Promise<BootstrapTokenRecord[]>;
  /**
   * Revokes unused tokens: one by id, or every one of a SPIFFE id. A revoked token is deleted,
   * so neither `findBootstrapToken` nor `consumeBootstrapToken` can find it again; of a
   * revocation and a consumption racing for one token, exactly one wins. Used tokens are left.
   * @returns the tokens revoked by this call.
   */
  revokeBootstrapTokens(target: { id: string } | { spiffeId: string }): Promise<BootstrapTokenRecord[]>;
}

export interface BootstrapTokenQuery {
  id?: string;
  spiffeId?: string;
  limit?: number;
}
