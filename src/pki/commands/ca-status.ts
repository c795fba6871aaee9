/**
 * `gatehouse ca status`: what the CA is made of now, for an operator about to rotate something
 * or checking that a rotation took: the root in force (and whether its key is in the store),
 * a prepared root waiting for `ca rotate-root --activate` (and from when activation needs no
 * `--force`), the issuing and previous intermediates and the roots still trusted for them,
 * each with its serial, name and validity. Reads only.
 */
import { GatehouseError } from '../../core/errors.ts';
import { caKeyAlgorithmOf } from '../algorithms.ts';
import { normalizeSerial } from '../serial.ts';
import { x509 } from '../x509.ts';
import type { PkiCommandContext } from './context.ts';

export interface CaCertificateStatus {
  serial: string;
  subject: string;
  notBefore: string;
  notAfter: string;
  /** Whole days left (negative once expired). */
  daysLeft: number;
  /** Its key type: a root rotation with `--key-type` leaves certificates of two types trusted side by side. */
  keyAlgorithm: string;
}

export interface CaStatus {
  trustDomain: string;
  /** Key type of the root in force, which rotated intermediates follow. */
  keyAlgorithm: string;
  root: CaCertificateStatus & { keyInStore: boolean };
  issuingIntermediate: CaCertificateStatus;
  /** Intermediates replaced by a rotation, still trusted until they expire (expired ones listed too, marked by daysLeft). */
  previousIntermediates: CaCertificateStatus[];
  /** Roots replaced by `ca rotate-root --activate`, trusted while an intermediate they signed is. */
  previousRoots: CaCertificateStatus[];
  /** Intermediates the root in force revoked on its CRL (`ca rotate-intermediate --retire-previous`). */
  revokedIntermediates: { serial: string; revokedAt: string }[];
  /** A root prepared by `ca rotate-root`, trusted and not yet issuing. */
  pendingRoot?: CaCertificateStatus & { intermediate: CaCertificateStatus; preparedAt: string; activateWithoutForceFrom: string };
}

const DAY = 86_400_000;

function describe(pem: string, now: Date): CaCertificateStatus {
  const cert = new x509.X509Certificate(pem);
  return {
    serial: normalizeSerial(cert.serialNumber) ?? cert.serialNumber, subject: cert.subject,
    notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(),
    daysLeft: Math.floor((cert.notAfter.getTime() - now.getTime()) / DAY),
    keyAlgorithm: caKeyAlgorithmOf(cert),
  };
}

export async function caStatusCommand(ctx: PkiCommandContext, now = new Date()): Promise<CaStatus> {
  const ca = await ctx.repo.getCa();
  if (!ca) throw new GatehouseError('ERR_PKI_NOT_INITIALIZED', { detail: 'run `gatehouse ca init` first' });
  const pending = ca.pendingRoot;
  return {
    trustDomain: ctx.config.trustDomain, keyAlgorithm: ca.keyAlgorithm,
    root: { ...describe(ca.rootCertPem, now), keyInStore: ca.rootKeySealed !== null },
    issuingIntermediate: describe(ca.intermediateCertPem, now),
    previousIntermediates: ca.previousIntermediates.map((p) => describe(p.certPem, now)),
    previousRoots: ca.previousRoots.map((r) => describe(r.certPem, now)),
    revokedIntermediates: new x509.X509Crl(ca.rootCrlPem).entries.map((e) => ({ serial: normalizeSerial(e.serialNumber) ?? e.serialNumber, revokedAt: e.revocationDate.toISOString() })),
    ...(pending !== null ? {
      pendingRoot: {
        ...describe(pending.rootCertPem, now), intermediate: describe(pending.intermediateCertPem, now), preparedAt: pending.preparedAt.toISOString(),
        activateWithoutForceFrom: new Date(pending.preparedAt.getTime() + ctx.config.rootRotationMinWaitSeconds * 1000).toISOString(),
      },
    } : {}),
  };
}
