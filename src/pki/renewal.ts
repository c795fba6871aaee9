import { GatehouseError, toGatehouseError } from '../core/errors.ts';
import type { CaContext } from './ca-context.ts';
import { guardRequest, type RefusalContext } from './certificate-request-guard.ts';
import type { IssuedCertificate, IssueOptions, Requester } from './certificate-requests.ts';
import type { CrlPublisher } from './crl-publisher.ts';
import { parseCsr } from './csr.ts';
import { signLeaf } from './leaf-signing.ts';
import { verifyPeer, type PeerCertificateInput } from './mtls/verify-peer.ts';
import { refuseBlocked } from './refuse-blocked.ts';
import { revokeCertificates } from './revocation.ts';
import { x509 } from './x509.ts';

/** Renewal of a workload certificate against the current one (`CertificateAuthority.renew`). */
export function renewCertificate(ca: CaContext, crls: CrlPublisher, csrInput: string | Uint8Array, current: PeerCertificateInput | undefined, options: IssueOptions, requester: Requester): Promise<IssuedCertificate> {
  // A refusal names the address it came from, as the bootstrap path's do: an operator looking
  // at refused renewals (a revoked or foreign certificate) wants to know where they came from.
  const refused = (): RefusalContext => (requester.clientAddress ? { clientAddress: requester.clientAddress } : {});
  return guardRequest(ca, undefined, async () => {
    let peer;
    try {
      // Certificates of a previous intermediate renew too: that is how workloads move to the new one.
      peer = verifyPeer(current, ca.material.state.anchors, { now: ca.clock() });
    } catch (cause) {
      throw new GatehouseError('ERR_PKI_RENEWAL_UNAUTHORIZED', { detail: `current certificate not accepted: ${toGatehouseError(cause).message}`, cause });
    }
    // The store, not a CRL snapshot, is the authority on revocation here.
    const record = await ca.repo.getCertificate(peer.serial);
    if (!record || record.spiffeId !== peer.spiffeId) throw new GatehouseError('ERR_PKI_RENEWAL_UNAUTHORIZED', { detail: `serial ${peer.serial} is not a certificate this CA issued` });
    if (record.revokedAt !== null) throw new GatehouseError('ERR_PKI_RENEWAL_UNAUTHORIZED', { detail: `serial ${peer.serial} is revoked` });
    // A kind the operator has since removed from pki.kinds is no longer issued, also not by renewal.
    if (!ca.config.kinds.includes(peer.spiffe.kind)) throw new GatehouseError('ERR_PKI_IDENTITY_NOT_ALLOWED', { detail: `kind ${peer.spiffe.kind} is not one of ${ca.config.kinds.join(', ')}` });
    await refuseBlocked(ca, peer.spiffeId);
    const csr = await parseCsr(csrInput);
    // Each renewal certifies a new key: renewing the same one would keep one key in use for
    // ever, however short-lived each certificate is, so a key copied once stays good.
    const currentKey = new x509.X509Certificate(record.certPem).publicKey.rawData;
    if (Buffer.from(currentKey).equals(Buffer.from(csr.publicKey.rawData))) {
      throw new GatehouseError('ERR_PKI_CSR_INVALID', { detail: `the CSR is for the key of ${peer.serial}; a renewal needs a new key`, data: { spiffeId: peer.spiffeId } });
    }
    const issued = await signLeaf(ca, csr, peer.spiffe, { dnsNames: record.dnsNames, ipAddresses: record.ipAddresses }, 'renewal', options, peer.serial);
    // A revocation that ran between the check above and the insert in signLeaf did not see the
    // new certificate (revoking an identity marks the rows stored at that moment), so a holder
    // of a compromised key could renew out of it. Look again now that the new one is stored.
    const after = await ca.repo.getCertificate(peer.serial);
    if (after?.revokedAt !== null) {
      await revokeCertificates(ca, crls, { serial: issued.serial }, after?.revocationReason ?? 'unspecified');
      throw new GatehouseError('ERR_PKI_RENEWAL_UNAUTHORIZED', { detail: `serial ${peer.serial} was revoked while it was being renewed` });
    }
    return issued;
  }, refused);
}
