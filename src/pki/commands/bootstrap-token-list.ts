/** `gatehouse bootstrap-token list [--id <spiffe id>] [--limit n]`: bootstrap tokens, newest first, never the token itself. */
import type { PkiCommandContext } from './context.ts';

export interface BootstrapTokenListRow {
  id: string;
  spiffeId: string;
  dnsNames: string[];
  ipAddresses: string[];
  createdAt: string;
  expiresAt: string;
  /** Revoked tokens are deleted, so they are not listed (the audit log keeps the revocation). */
  status: 'unused' | 'used' | 'expired';
  usedAt?: string;
}

export async function bootstrapTokenListCommand(ctx: PkiCommandContext, options: { spiffeId?: string; limit?: number } = {}): Promise<BootstrapTokenListRow[]> {
  const now = Date.now();
  const tokens = await ctx.repo.listBootstrapTokens({ ...(options.spiffeId ? { spiffeId: options.spiffeId } : {}), limit: options.limit ?? 100 });
  return tokens.map((t) => ({
    id: t.id, spiffeId: t.spiffeId, dnsNames: t.dnsNames, ipAddresses: t.ipAddresses,
    createdAt: t.createdAt.toISOString(), expiresAt: t.expiresAt.toISOString(),
    status: t.usedAt ? 'used' : t.expiresAt.getTime() <= now ? 'expired' : 'unused',
    ...(t.usedAt ? { usedAt: t.usedAt.toISOString() } : {}),
  }));
}
