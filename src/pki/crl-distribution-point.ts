/**
 * Where a certificate's CRL is served: the URL of its CRL distribution point. Each intermediate
 * has its own, `<pki.crl.path>/<key id>` (its subject key identifier in hex, which the
 * authority key identifier of its certificates and CRLs repeats), DER there and PEM at `….pem`.
 *
 * One URL for the whole CA was enough while one intermediate signed everything. After
 * `ca rotate-intermediate` two do, each for its own certificates, and a relying party that
 * downloads the CRL a certificate names (OpenSSL's `-crl_download`, a service mesh, a job
 * feeding nginx's `ssl_crl`) needs the one signed by that certificate's issuer: served the
 * other intermediate's CRL it cannot check revocation at all.
 *
 * The bare `<pki.crl.path>` is what certificates issued before these URLs carry, so it keeps
 * being served (see `CertificateAuthority.currentCrlOf`).
 */

const KEY_ID = /^[0-9a-f]{2,128}$/;

/** A CRL request: one intermediate's (`keyId`) or the bare path's (`keyId` undefined). */
export interface CrlRequest {
  keyId?: string;
  pem: boolean;
}

/** The path of the CRL of the intermediate with this key id (hex). */
export function issuerCrlPath(crlPath: string, keyId: string): string {
  return `${crlPath.replace(/\/+$/, '')}/${keyId.toLowerCase()}`;
}

/** The URL of the CRL of the intermediate with this key id, served under `publicUrl`. */
export function issuerCrlUrl(crlPath: string, publicUrl: string, keyId: string): string {
  return new URL(issuerCrlPath(crlPath, keyId), publicUrl).href;
}

/** What a request path under `pki.crl.path` asks for; undefined when it is no CRL path. */
export function parseCrlPath(crlPath: string, path: string): CrlRequest | undefined {
  if (path === crlPath) return { pem: false };
  if (path === `${crlPath}.pem`) return { pem: true };
  const prefix = `${crlPath.replace(/\/+$/, '')}/`;
  if (!path.startsWith(prefix)) return undefined;
  const rest = path.slice(prefix.length);
  const pem = rest.endsWith('.pem');
  const keyId = pem ? rest.slice(0, -4) : rest;
  return KEY_ID.test(keyId) ? { keyId, pem } : undefined;
}
