/** `gatehouse cert list [--id <spiffe id>] [--live] [--limit n]`: issued certificates, newest first. */
import type { PkiCommandContext } from './context.ts';

export interface CertListRow {
  serial: string;
  spiffeId: string;
  notBefore: string;
  notAfter: string;
  issuedVia: string;
  status: 'valid' | 'expired' | 'revoked';
  revokedAt?: string;
  revocationReason?: string;
}

export async function certListCommand(ctx: PkiCommandContext, options: { spiffeId?: string; live?: boolean; limit?: number } = {}): Promise<CertListRow[]> {
  const now = new Date();
  const rows = await ctx.repo.listCertificates({
    ...(options.spiffeId ? { spiffeId: options.spiffeId } : {}), ...(options.live ? { liveAt: now } : {}), limit: options.limit ?? 100,
  });
  return rows.map((r) => ({
    serial: r.serial, spiffeId: r.spiffeId, notBefore: r.notBefore.toISOString(), notAfter: r.notAfter.toISOString(), issuedVia: r.issuedVia,
    status: r.revokedAt ? 'revoked' : r.notAfter.getTime() <= now.getTime() ? 'expired' : 'valid',
    ...(r.revokedAt ? { revokedAt: r.revokedAt.toISOString() } : {}), ...(r.revocationReason ? { revocationReason: r.revocationReason } : {}),
  }));
}
