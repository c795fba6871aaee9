/** Creating and revoking the one-time bootstrap tokens that let a workload obtain its first certificate. */
import { GatehouseError } from '../core/errors.ts';
import { generateBootstrapToken } from './bootstrap-token.ts';
import type { CaContext } from './ca-context.ts';
import type { CreateBootstrapTokenRequest } from './certificate-requests.ts';
import { emitSafely } from './events.ts';
import { checkKind } from './leaf-signing.ts';
import { canonicalDnsName, canonicalIp, canonicalList } from './names.ts';
import type { BootstrapTokenRecord } from './repository.ts';
import { parseSpiffeId } from './spiffe.ts';

/** `CertificateAuthority.createBootstrapToken`. */
export async function createBootstrapToken(ca: CaContext, request: CreateBootstrapTokenRequest): Promise<{ id: string; token: string; spiffeId: string; expiresAt: Date }> {
  const spiffe = parseSpiffeId(request.spiffeId, ca.config.trustDomain);
  checkKind(ca, spiffe);
  const ttl = request.ttlSeconds ?? ca.config.bootstrapTokenTtlSeconds;
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > 30 * 86400) throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { detail: `ttlSeconds ${ttl} outside 60..2592000` });
  const now = ca.clock();
  const generated = generateBootstrapToken();
  const expiresAt = new Date(now.getTime() + ttl * 1000);
  await ca.repo.insertBootstrapToken({
    id: generated.id, tokenHash: generated.tokenHash, spiffeId: spiffe.uri,
    dnsNames: canonicalList(request.dnsNames, canonicalDnsName, 'DNS name'),
    ipAddresses: canonicalList(request.ipAddresses, canonicalIp, 'IP address'),
    createdAt: now, expiresAt, usedAt: null,
  });
  emitSafely(ca.onEvent, { type: 'pki.bootstrap_token.created', tokenId: generated.id, spiffeId: spiffe.uri, expiresAt: expiresAt.toISOString() });
  return { id: generated.id, token: generated.token, spiffeId: spiffe.uri, expiresAt };
}

/** `CertificateAuthority.revokeBootstrapToken`: an unused one only. */
export async function revokeBootstrapToken(ca: CaContext, id: string): Promise<BootstrapTokenRecord> {
  const [revoked] = await ca.repo.revokeBootstrapTokens({ id });
  if (!revoked) {
    const [known] = await ca.repo.listBootstrapTokens({ id, limit: 1 });
    if (!known) throw new GatehouseError('ERR_PKI_BOOTSTRAP_TOKEN_NOT_FOUND', { detail: `no bootstrap token ${id.slice(0, 80)}` });
    throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { detail: `bootstrap token ${id} was used at ${known.usedAt?.toISOString()}; revoke the certificate it obtained: cert revoke --id ${known.spiffeId}` });
  }
  ca.logger?.info({ tokenId: id, spiffeId: revoked.spiffeId }, 'bootstrap token revoked');
  emitSafely(ca.onEvent, { type: 'pki.bootstrap_token.revoked', tokenIds: [id], target: id });
  return revoked;
}

/** `CertificateAuthority.revokeBootstrapTokensOf`: @returns the ids of the tokens revoked. */
export async function revokeBootstrapTokensOf(ca: CaContext, spiffeId: string): Promise<string[]> {
  const uri = parseSpiffeId(spiffeId, ca.config.trustDomain).uri;
  const ids = (await ca.repo.revokeBootstrapTokens({ spiffeId: uri })).map((t) => t.id);
  if (ids.length > 0) {
    ca.logger?.info({ tokenIds: ids, spiffeId: uri }, 'bootstrap tokens revoked');
    emitSafely(ca.onEvent, { type: 'pki.bootstrap_token.revoked', tokenIds: ids, target: uri });
  }
  return ids;
}
