/**
 * `gatehouse bootstrap-token create --id <spiffe id> [--dns …] [--ip …] [--ttl s]`: prints a
 * one-time token for a workload's first certificate. The token is shown once; only its
 * hash is stored.
 */
import { openAuthority, type PkiCommandContext } from './context.ts';

export async function bootstrapTokenCreateCommand(ctx: PkiCommandContext, options: { spiffeId: string; dnsNames?: string[]; ipAddresses?: string[]; ttlSeconds?: number }): Promise<{ id: string; token: string; spiffeId: string; expiresAt: Date }> {
  const ca = await openAuthority(ctx);
  return ca.createBootstrapToken({
    spiffeId: options.spiffeId,
    ...(options.dnsNames ? { dnsNames: options.dnsNames } : {}),
    ...(options.ipAddresses ? { ipAddresses: options.ipAddresses } : {}),
    ...(options.ttlSeconds ? { ttlSeconds: options.ttlSeconds } : {}),
  });
}
