/** Revoking workload certificates: by serial (with its renewals) or by identity, then a new CRL at once. */
import { GatehouseError, toGatehouseError } from '../core/errors.ts';
import type { CaContext } from './ca-context.ts';
import type { RevocationReason } from './crl-builder.ts';
import type { CrlPublisher } from './crl-publisher.ts';
import { emitSafely } from './events.ts';
import { normalizeSerial } from './serial.ts';
import { parseSpiffeId } from './spiffe.ts';

/** `CertificateAuthority.revoke`: @returns the serials revoked now. */
export async function revokeCertificates(ca: CaContext, crls: CrlPublisher, target: { serial: string } | { spiffeId: string }, reason: RevocationReason): Promise<string[]> {
  let normalized: { serial: string } | { spiffeId: string };
  if ('serial' in target) {
    const serial = normalizeSerial(target.serial);
    if (!serial || !(await ca.repo.getCertificate(serial))) throw new GatehouseError('ERR_PKI_CERT_NOT_FOUND', { detail: `serial ${String(target.serial).slice(0, 80)}` });
    normalized = { serial };
  } else {
    normalized = { spiffeId: parseSpiffeId(target.spiffeId, ca.config.trustDomain).uri };
  }
  const at = ca.clock();
  const serials = await ca.repo.revoke(normalized, at, reason);
  if ('serial' in normalized) serials.push(...(await revokeRenewals(ca, normalized.serial, at, reason)));
  ca.logger?.info({ serials, target: normalized, reason }, 'certificates revoked');
  emitSafely(ca.onEvent, { type: 'pki.certificate.revoked', serials, target: 'serial' in normalized ? normalized.serial : normalized.spiffeId, reason });
  try {
    await crls.publishCrl();
  } catch (error) {
    // The revocation is stored: the next CRL read by any instance (or the CRL endpoint)
    // publishes a CRL with it, because currentCrl re-publishes one that misses a revocation.
    ca.logger?.error({ serials, code: toGatehouseError(error).code }, 'revocation saved, but publishing the CRL failed; the next CRL read publishes it');
    throw error;
  }
  return serials;
}

/**
 * Revokes the descendants of `serial` by renewal. Whoever holds a revoked certificate's key
 * may already have renewed it, and the renewed certificate is theirs as much as the old
 * one. Already revoked descendants are walked through too: their own renewals may predate
 * it. A renewal that lands after this walk is caught by `renew`, which looks at its
 * parent again once the new certificate is stored.
 */
async function revokeRenewals(ca: CaContext, serial: string, at: Date, reason: RevocationReason): Promise<string[]> {
  const root = await ca.repo.getCertificate(serial);
  if (root && root.renewedFrom === undefined) {
    ca.logger?.warn({ serial }, 'the PKI repository keeps no renewal lineage: certificates renewed from this serial were not revoked; revoke the identity (--id) to be sure');
    return [];
  }
  const revoked: string[] = [];
  const seen = new Set([serial]);
  let frontier = [serial];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const parent of frontier) {
      const children = await ca.repo.listCertificates({ renewedFrom: parent, limit: 10_000 });
      // Filtered again here: a repository that ignored the query must not revoke strangers.
      for (const child of children.filter((c) => c.renewedFrom === parent && !seen.has(c.serial))) {
        seen.add(child.serial);
        next.push(child.serial);
        revoked.push(...(await ca.repo.revoke({ serial: child.serial }, at, reason)));
      }
    }
    frontier = next;
  }
  return revoked;
}
