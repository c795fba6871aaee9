/**
 * Redeemed authorization codes are remembered as long as the tokens issued from them can live,
 * so that a replay is recognised — and the tokens revoked (RFC 6749 §4.1.2, Security BCP
 * §4.5) — also after the code's own lifetime (`ttl.authorizationCode`). Before, a code's
 * record expired with the code: a replay a minute later was "not found" and revoked nothing,
 * though the first redemption may have been the attacker's and the client's own the late one.
 *
 * What a presentation of a code does, by case (oidc-provider's order of checks, kept on purpose):
 * - Unredeemed, with the code's client, PKCE verifier and redirect_uri: redeemed.
 * - Redeemed (consumed), with the code's client, verifier and redirect_uri, before or after the
 *   code expired: refused, and the grant revoked with every token issued from it (JWT access
 *   tokens at the gateway too: grant-jwts.ts). Whoever sent it could have redeemed it, so the
 *   first redemption may have been someone else's.
 * - Any presentation that fails those bindings (wrong or missing verifier, another client,
 *   another redirect_uri): refused, and nothing else happens — an unredeemed code stays good
 *   for its client, a redeemed one's tokens stay valid. Its sender could not have obtained
 *   tokens with the code, so the tokens of its redemption did not leak through it; revoking
 *   them would let anyone who merely saw the code (browser history, a Referer, a proxy log)
 *   end the victim's sign-in at will, and burning an unredeemed code would let them break the
 *   sign-in in flight. (The client's own retry of a redemption carries the bindings, and is a
 *   replay: that is the BCP's trade-off.)
 * - Unredeemed and expired: refused ("not found"); nothing was issued from it, nothing to revoke.
 */
import type { KvRepo } from '../../store/repos/kv-repo.ts';

type Payload = Record<string, unknown>;

/**
 * After a code was consumed: keeps its record until its grant expires (the longest any token
 * issued from it lives; the grant's deletion deletes the code with it). Nothing is kept past
 * the code's own expiry when its grant is gone.
 */
export async function keepRedeemedCode(kv: KvRepo, namespace: string, id: string, now = Date.now()): Promise<void> {
  const code = await kv.find(namespace, id);
  if (code?.grantId == null || code.expiresAt === null) return;
  const grant = await kv.find('oidc:Grant', code.grantId);
  if (grant?.expiresAt == null || grant.expiresAt <= code.expiresAt) return;
  // Replacing the record keeps its consumedAt.
  await kv.upsert(namespace, id, code.payload, (grant.expiresAt - now) / 1000);
}

/**
 * A redeemed code as oidc-provider reads it: without its `exp`, so that a replay after the code
 * expired reaches the replay check (which revokes, once the bindings pass) instead of stopping
 * at "authorization code is expired". Safe because a consumed code never yields tokens: the
 * replay check refuses it whatever its expiry.
 */
export function asRedeemedCode(payload: Payload | undefined): Payload | undefined {
  if (payload?.consumed === undefined) return payload;
  const { exp: _exp, ...rest } = payload;
  return rest;
}
