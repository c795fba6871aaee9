/**
 * `gatehouse cert revoke (--serial <hex> | --id <spiffe id>) [--reason …]`: revokes (a serial with
 * every certificate renewed from it) and publishes a new CRL. `--id` also revokes the identity's
 * unused bootstrap tokens, first: any of them would otherwise get it a new certificate.
 */
import { GatehouseError } from '../../core/errors.ts';
import { REVOCATION_REASONS, type RevocationReason } from '../crl-builder.ts';
import { openAuthority, type PkiCommandContext } from './context.ts';

export async function certRevokeCommand(ctx: PkiCommandContext, options: { serial?: string; spiffeId?: string; reason?: string }): Promise<{ revoked: string[]; bootstrapTokensRevoked?: string[] }> {
  if ((options.serial === undefined) === (options.spiffeId === undefined)) {
    throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { detail: 'give exactly one of serial or spiffeId' });
  }
  const reason = options.reason ?? 'unspecified';
  if (!(REVOCATION_REASONS as readonly string[]).includes(reason)) {
    throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { detail: `reason must be one of ${REVOCATION_REASONS.join(', ')}` });
  }
  const ca = await openAuthority(ctx);
  if (options.serial !== undefined) return { revoked: await ca.revoke({ serial: options.serial }, reason as RevocationReason) };
  const bootstrapTokensRevoked = await ca.revokeBootstrapTokensOf(options.spiffeId!);
  return { revoked: await ca.revoke({ spiffeId: options.spiffeId! }, reason as RevocationReason), bootstrapTokensRevoked };
}
