/**
 * A certificate whose key signs tokens must be allowed to make signatures: when it carries
 * a key usage extension, `digitalSignature` must be in it (RFC 5280 §4.2.1.3). A certificate
 * without the extension is unrestricted by RFC 5280 and accepted. A key-encipherment-only or
 * CA-signing-only certificate cannot lend its key to tokens.
 */
import type { X509Certificate } from 'node:crypto';
// The project's one entry point to @peculiar/x509 (loads its Reflect polyfill and crypto provider first).
import { x509 } from '../../pki/x509.ts';

/** True when `cert` may be used to verify signatures other than on certificates and CRLs. */
export function allowsDigitalSignature(cert: X509Certificate): boolean {
  const usage = new x509.X509Certificate(cert.raw).getExtension(x509.KeyUsagesExtension);
  return usage === null || (usage.usages & x509.KeyUsageFlags.digitalSignature) !== 0;
}
