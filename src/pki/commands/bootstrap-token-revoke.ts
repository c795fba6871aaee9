/**
 * `gatehouse bootstrap-token revoke <id>`: an unused bootstrap token stops working at once (it
 * is deleted from the store every instance reads), for a token handed to the wrong place or
 * no longer needed. A used one has done its work: revoke the certificate it obtained instead.
 */
import { openAuthority, type PkiCommandContext } from './context.ts';

export async function bootstrapTokenRevokeCommand(ctx: PkiCommandContext, id: string): Promise<{ id: string; spiffeId: string }> {
  const ca = await openAuthority(ctx);
  const revoked = await ca.revokeBootstrapToken(id);
  return { id: revoked.id, spiffeId: revoked.spiffeId };
}
