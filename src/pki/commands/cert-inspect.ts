/**
 * `gatehouse cert inspect <file>`: what a certificate says (SPIFFE id, SANs, validity, usages)
 * and, with a context, what the CA knows about it (issued here? revoked?).
 */
import { GatehouseError } from '../../core/errors.ts';
import { normalizeSerial } from '../serial.ts';
import { x509 } from '../x509.ts';
import type { PkiCommandContext } from './context.ts';

export interface CertInspection {
  serial: string;
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  spiffeIds: string[];
  dnsNames: string[];
  ipAddresses: string[];
  ca: boolean;
  keyUsage: number | undefined;
  extendedKeyUsage: string[];
  sha256Fingerprint: string;
  /** From the CA's records; absent when no context was given. */
  status?: 'unknown' | 'valid' | 'expired' | 'revoked';
}

export async function certInspectCommand(pem: string, ctx?: PkiCommandContext): Promise<CertInspection> {
  let cert: x509.X509Certificate;
  try { cert = new x509.X509Certificate(pem); } catch (cause) { throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { detail: 'not a certificate', cause }); }
  const names = cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON() ?? [];
  const serial = normalizeSerial(cert.serialNumber) ?? cert.serialNumber;
  const result: CertInspection = {
    serial, subject: cert.subject, issuer: cert.issuer,
    notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(),
    spiffeIds: names.filter((n) => n.type === 'url' && n.value.startsWith('spiffe://')).map((n) => n.value),
    dnsNames: names.filter((n) => n.type === 'dns').map((n) => n.value),
    ipAddresses: names.filter((n) => n.type === 'ip').map((n) => n.value),
    ca: cert.getExtension(x509.BasicConstraintsExtension)?.ca ?? false,
    keyUsage: cert.getExtension(x509.KeyUsagesExtension)?.usages,
    extendedKeyUsage: (cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? []).map(String),
    sha256Fingerprint: Buffer.from(await cert.getThumbprint('SHA-256')).toString('hex'),
  };
  if (ctx) {
    const record = await ctx.repo.getCertificate(serial);
    result.status = !record || record.certPem.trim() !== cert.toString('pem').trim() ? 'unknown' : record.revokedAt ? 'revoked' : record.notAfter.getTime() <= Date.now() ? 'expired' : 'valid';
  }
  return result;
}
