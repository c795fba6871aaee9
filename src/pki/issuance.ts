/**
 * First issuance of a workload certificate: for an identity the caller vouches for
 * (internal), or for the one a bootstrap token names.
 */
import { GatehouseError } from '../core/errors.ts';
import { credentialDigest } from '../authn/refused-credential.ts';
import { bootstrapTokenId, hashBootstrapToken } from './bootstrap-token.ts';
import type { CaContext } from './ca-context.ts';
import { guardRequest, type RefusalContext } from './certificate-request-guard.ts';
import type { InternalIssueRequest, IssuedCertificate, IssueOptions, Requester } from './certificate-requests.ts';
import { parseCsr } from './csr.ts';
import { checkKind, leafLifetime, signLeaf } from './leaf-signing.ts';
import { canonicalDnsName, canonicalIp, canonicalList } from './names.ts';
import { refuseBlocked } from './refuse-blocked.ts';
import { parseSpiffeId } from './spiffe.ts';

/** `CertificateAuthority.issue`: the caller vouches for the identity. */
export function issueInternal(ca: CaContext, request: InternalIssueRequest): Promise<IssuedCertificate> {
  return guardRequest(ca, request.spiffeId, async () => {
    const spiffe = parseSpiffeId(request.spiffeId, ca.config.trustDomain);
    checkKind(ca, spiffe);
    const csr = await parseCsr(request.csr);
    return signLeaf(ca, csr, spiffe, {
      dnsNames: canonicalList(request.allowedDnsNames, canonicalDnsName, 'DNS name'),
      ipAddresses: canonicalList(request.allowedIpAddresses, canonicalIp, 'IP address'),
    }, 'internal', request);
  });
}

/** `CertificateAuthority.issueWithBootstrapToken`: the token names the identity and is consumed. */
export function issueWithBootstrapToken(ca: CaContext, csrInput: string | Uint8Array, token: string, options: IssueOptions, requester: Requester): Promise<IssuedCertificate> {
  // A refused token is named by its digest, with the address that presented it: detection
  // counts the distinct tokens one address tries (credentialGuessing). Without the address,
  // guessing bootstrap tokens counted for nothing. The digest is of `bootstrap <token>`, so that it
  // is not a prefix of the token's stored hash (SHA-256 of the token).
  const refused = (e: GatehouseError): RefusalContext => ({
    ...(requester.clientAddress ? { clientAddress: requester.clientAddress } : {}),
    ...(e.code === 'ERR_PKI_BOOTSTRAP_TOKEN_INVALID' && typeof token === 'string' ? { refusedCredential: credentialDigest(`bootstrap ${token}`) } : {}),
  });
  return guardRequest(ca, undefined, async () => {
    // Parse and check the CSR and lifetime first: a malformed request must not burn the token.
    const csr = await parseCsr(csrInput);
    leafLifetime(ca, options);
    if (typeof token !== 'string' || bootstrapTokenId(token) === undefined) {
      throw new GatehouseError('ERR_PKI_BOOTSTRAP_TOKEN_INVALID', { detail: 'malformed token' });
    }
    const hash = hashBootstrapToken(token);
    // Looked up before it is consumed: a token for a blocked identity is refused unspent, and
    // works once the block has ended.
    const found = await ca.repo.findBootstrapToken(hash, ca.clock());
    if (found) await refuseBlocked(ca, found.spiffeId);
    const record = found && await ca.repo.consumeBootstrapToken(hash, ca.clock());
    if (!record) throw new GatehouseError('ERR_PKI_BOOTSTRAP_TOKEN_INVALID', { detail: `token ${bootstrapTokenId(token)} unknown, used or expired` });
    const spiffe = parseSpiffeId(record.spiffeId, ca.config.trustDomain);
    checkKind(ca, spiffe);
    return signLeaf(ca, csr, spiffe, { dnsNames: record.dnsNames, ipAddresses: record.ipAddresses }, 'bootstrap', options);
  }, refused);
}
