/**
 * Building signed CRLs (RFC 5280 §5): version 2, authority key identifier, CRL number,
 * one entry per revoked, not yet expired certificate, with its reason code.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber, id_ce_cRLNumber } from '@peculiar/asn1-x509';
import type { webcrypto } from 'node:crypto';
import type { CrlRecord } from './repository.ts';
import { x509 } from './x509.ts';

/** Revocation reasons Gatehouse records (RFC 5280 CRLReason names). */
export const REVOCATION_REASONS = ['unspecified', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'privilegeWithdrawn'] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

const REASON_CODES: Record<RevocationReason, number> = {
  unspecified: 0, keyCompromise: 1, affiliationChanged: 3, superseded: 4, cessationOfOperation: 5, privilegeWithdrawn: 9,
};

export interface CrlEntryInput {
  serial: string;
  revokedAt: Date;
  reason: RevocationReason;
}

export interface BuildCrlParams {
  issuer: x509.X509Certificate;
  signingKey: webcrypto.CryptoKey;
  signingAlgorithm: webcrypto.EcdsaParams;
  number: number;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: readonly CrlEntryInput[];
}

/** Signs a CRL; returns it parsed (use `.rawData` for DER, `.toString('pem')` for PEM). */
export async function buildCrl(params: BuildCrlParams): Promise<x509.X509Crl> {
  const ski = params.issuer.getExtension(x509.SubjectKeyIdentifierExtension);
  if (!ski) throw new Error('CRL issuer certificate has no subject key identifier');
  const crlNumber = new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(new CRLNumber(params.number)));
  return x509.X509CrlGenerator.create({
    issuer: params.issuer.subjectName,
    thisUpdate: params.thisUpdate,
    nextUpdate: params.nextUpdate,
    signingKey: params.signingKey as unknown as CryptoKeyLike,
    signingAlgorithm: params.signingAlgorithm,
    extensions: [new x509.AuthorityKeyIdentifierExtension(ski.keyId), crlNumber],
    entries: params.entries.map((e) => ({
      serialNumber: e.serial.length % 2 === 0 ? e.serial : `0${e.serial}`,
      revocationDate: e.revokedAt,
      // The library omits reason 0; RFC 5280 asks not to write "unspecified" anyway.
      reason: REASON_CODES[e.reason],
    })),
  });
}

type CryptoKeyLike = Parameters<typeof x509.X509CrlGenerator.create>[0]['signingKey'];

/**
 * PEM of a DER CRL with the RFC 7468 label `X509 CRL`, the one OpenSSL and Node's
 * `tls` accept (@peculiar/x509 writes a bare `CRL` label, which both refuse).
 */
export function crlToPem(der: Uint8Array | ArrayBuffer): string {
  return x509.PemConverter.encode(der instanceof Uint8Array ? new Uint8Array(der) : der, 'X509 CRL') + '\n';
}

/** PEM of each CRL of a publication: the issuing intermediate's first, then the previous intermediates'. */
export function crlRecordPems(record: CrlRecord): string[] {
  return [record.der, ...record.previousDers].map((der) => crlToPem(der));
}
