/**
 * The grants of each client, so that removing or disabling a client ends everything issued to
 * it at once: its grants with their codes, refresh tokens and opaque access tokens, and every
 * JWT access token it was issued (with a grant or not) at every gateway instance.
 *
 * The store finds records by grant only, so each grant is also recorded under its client (kv
 * namespace `identity:client-grant`, listed by {@link clientIndexKey}) when it is saved, for as
 * long as the grant lives. The records' registration stamp (client-registration.ts) stays the
 * second line: a grant saved while its client was being removed, which this list may miss, reads
 * as not found and is revoked at its first use.
 */
import type { KvRepo } from '../../store/repos/kv-repo.ts';
import { clientIndexKey, type GrantJwts } from './grant-jwts.ts';

export const CLIENT_GRANT_NAMESPACE = 'identity:client-grant';

/** What ending a client's tokens ended. */
export interface EndedClientTokens {
  grants: number;
  /** JWT access tokens newly refused at the gateway. */
  accessTokens: number;
}

export class ClientGrants {
  readonly #kv: KvRepo;
  readonly #grantJwts: GrantJwts;

  constructor(kv: KvRepo, grantJwts: GrantJwts) {
    this.#kv = kv;
    this.#grantJwts = grantJwts;
  }

  /** Records a grant under its client; called before the grant itself is saved. */
  async record(clientId: string, grantId: string, expiresInSec: number | undefined): Promise<void> {
    await this.#kv.upsert(CLIENT_GRANT_NAMESPACE, grantId, { grantId }, expiresInSec, { grantId: clientIndexKey(clientId) });
  }

  /**
   * Ends everything issued to the client. Call after it was removed or disabled in the store, so
   * that nothing issued meanwhile escapes (see grant-jwts.ts). Safe to repeat.
   */
  async endAll(clientId: string): Promise<EndedClientTokens> {
    const key = clientIndexKey(clientId);
    const grantIds: string[] = [];
    for (const record of await this.#kv.findByGrantId(CLIENT_GRANT_NAMESPACE, key)) {
      const { grantId } = (record.payload ?? {}) as { grantId?: unknown };
      if (typeof grantId === 'string') grantIds.push(grantId);
    }
    // As GrantJwts.revokeGrant does for one grant: the grants first, then their JWT access
    // tokens (with the client's own, of no grant: client credentials), then every other record.
    let grants = 0;
    for (const grantId of grantIds) if (await this.#kv.destroy('oidc:Grant', grantId)) grants++;
    const accessTokens = await this.#grantJwts.revokeClient(clientId, grantIds);
    for (const grantId of grantIds) await this.#kv.revokeByGrantId(grantId);
    // The lists themselves: what a client registered again under this id is issued starts anew.
    await this.#kv.revokeByGrantId(key);
    return { grants, accessTokens };
  }
}
