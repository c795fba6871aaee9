/**
 * oidc-provider enforces single use of codes and refresh tokens by reading the record,
 * checking `consumed`, and consuming it several store round trips later. Two requests that
 * present the same code or refresh token at the same time (on one instance or two) both
 * pass the check, and each would get its own tokens. The store's consume is atomic, so the
 * adapter knows which request lost: that request is a replay, and is treated exactly like
 * the replay oidc-provider catches when the two arrive one after the other — the grant is
 * revoked and the request refused with the same error.
 */
import Provider, { errors } from 'oidc-provider';
import type { KvRepo } from '../../store/repos/kv-repo.ts';
import type { GrantJwts } from './grant-jwts.ts';

/** Models whose records come from a grant; a replay of one revokes that grant. */
const GRANT_SOURCES = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

/** The refusal oidc-provider gives for the same replay detected in sequence. */
function refusal(model: string): Error {
  switch (model) {
    case 'AuthorizationCode': return new errors.InvalidGrant!('authorization code already consumed');
    // The detail is what provider-events.ts recognises to emit identity.refresh.reused.
    case 'RefreshToken': return new errors.InvalidGrant!('refresh token already used');
    case 'PushedAuthorizationRequest': return new errors.InvalidRequestUri!('request_uri is invalid, expired, or was already used');
    default: return new errors.InvalidGrant!(`${model} already consumed`);
  }
}

/**
 * Called when the atomic consume of `oidc:<model>`/`id` found the record already consumed
 * (or gone): revokes its grant and throws the provider error that ends the request.
 */
export async function refuseLostConsume(kv: KvRepo, grantJwts: GrantJwts, model: string, id: string): Promise<never> {
  const record = GRANT_SOURCES.has(model) ? await kv.find(`oidc:${model}`, id) : undefined;
  // Gone (expired at this very moment, or its grant already revoked by the winner's replay
  // check): nothing left to revoke. Present and consumed: someone else redeemed it.
  const grantId = record?.consumedAt != null ? record.grantId ?? undefined : undefined;
  if (grantId !== undefined) {
    // What oidc-provider's revoke does: every token (JWT access tokens included), code and the grant itself.
    await grantJwts.revokeGrant(grantId);
    const ctx = Provider.ctx;
    ctx?.oidc?.provider?.emit('grant.revoked', ctx, grantId);
  }
  throw refusal(model);
}
