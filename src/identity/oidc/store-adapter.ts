/**
 * oidc-provider's persistence adapter over the store: every model (sessions, grants,
 * codes, tokens, interactions …) lives in the store's kv repository under its model name,
 * so a restart loses nothing and several instances share state. Clients are the exception:
 * they come from `identity_clients`, where `gatehouse client add` puts them.
 */
import type { KvRepo } from '../../store/repos/kv-repo.ts';
import type { IdentityClientsRepo } from '../../store/repos/identity-clients-repo.ts';
import { clientFieldsMetadata } from './client-fields.ts';
import { ofCurrentRegistration, stampRegistration } from './client-registration.ts';
import { refuseLostConsume } from './lost-consume.ts';
import { GRANT_JWT_NAMESPACE, type GrantJwts } from './grant-jwts.ts';
import type { ClientGrants } from './client-grants.ts';
import { asRedeemedCode, keepRedeemedCode } from './redeemed-codes.ts';

type Payload = Record<string, unknown>;

/** The adapter interface oidc-provider calls (see its docs, "adapter"). */
export interface OidcAdapter {
  upsert(id: string, payload: Payload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<Payload | undefined>;
  findByUserCode(userCode: string): Promise<Payload | undefined>;
  findByUid(uid: string): Promise<Payload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

class KvAdapter implements OidcAdapter {
  readonly #kv: KvRepo;
  readonly #clients: IdentityClientsRepo;
  readonly #grantJwts: GrantJwts;
  readonly #model: string;
  readonly #ns: string;

  constructor(kv: KvRepo, clients: IdentityClientsRepo, grantJwts: GrantJwts, model: string) {
    this.#kv = kv;
    this.#clients = clients;
    this.#grantJwts = grantJwts;
    this.#model = model;
    this.#ns = `oidc:${model}`;
  }

  protected get kv(): KvRepo { return this.#kv; }
  protected get namespace(): string { return this.#ns; }
  protected get grantJwts(): GrantJwts { return this.#grantJwts; }

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    await this.#kv.upsert(this.#ns, id, await stampRegistration(this.#clients, payload), expiresIn);
  }

  async find(id: string): Promise<Payload | undefined> {
    return this.#ofCurrentClient(id, withConsumed(await this.#kv.find(this.#ns, id)));
  }

  async findByUserCode(userCode: string): Promise<Payload | undefined> {
    const record = await this.#kv.findByUserCode(this.#ns, userCode);
    return this.#ofCurrentClient(record?.id, withConsumed(record));
  }

  async findByUid(uid: string): Promise<Payload | undefined> {
    const record = await this.#kv.findByUid(this.#ns, uid);
    return this.#ofCurrentClient(record?.id, withConsumed(record));
  }

  /**
   * A record of a removed client (or of an earlier registration of its id) is gone, with its
   * grant and the grant's JWT access tokens. Removing a client ends its grants at once
   * (client-grants.ts); this catches what that missed (saved in the same moment, or before
   * grants were listed by client).
   */
  async #ofCurrentClient(id: string | undefined, payload: Payload | undefined): Promise<Payload | undefined> {
    if (!payload || (await ofCurrentRegistration(this.#clients, payload))) return payload;
    if (typeof payload.grantId === 'string') await this.#grantJwts.revokeGrant(payload.grantId);
    else if (id !== undefined) await this.#kv.destroy(this.#ns, id);
    return undefined;
  }

  async consume(id: string): Promise<void> {
    // Only the first consume wins; oidc-provider's own check ran on an earlier read.
    if (!(await this.#kv.consume(this.#ns, id))) await refuseLostConsume(this.#kv, this.#grantJwts, this.#model, id);
  }

  async destroy(id: string): Promise<void> {
    await this.#kv.destroy(this.#ns, id);
  }

  /**
   * oidc-provider revokes a grant's tokens by calling this for each token model at once (and
   * `Grant.destroy` alongside when the grant goes too). JWT access tokens are access tokens:
   * the AccessToken model's call revokes them at the gateway. Their records are left for the
   * Grant's destroy, which runs at the same time and must still find them (see grant-jwts.ts).
   */
  async revokeByGrantId(grantId: string): Promise<void> {
    if (this.#model === 'AccessToken') await this.#grantJwts.revoke(grantId);
    await this.#kv.revokeByGrantId(grantId, [GRANT_JWT_NAMESPACE]);
  }
}

/**
 * A grant is listed under its client when saved, and a grant destroyed (replay, reuse, RFC 7009
 * on a refresh token, logout) takes its JWT access tokens with it: listed after the grant is
 * gone, so that one issued at the same moment is either listed here or refused at issuance
 * (grant-jwts.ts).
 */
class GrantAdapter extends KvAdapter {
  readonly #clientGrants: ClientGrants;

  constructor(kv: KvRepo, clients: IdentityClientsRepo, grantJwts: GrantJwts, clientGrants: ClientGrants) {
    super(kv, clients, grantJwts, 'Grant');
    this.#clientGrants = clientGrants;
  }

  /** Listed under its client first, so that removing the client finds it (client-grants.ts). */
  override async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    if (typeof payload.clientId === 'string') await this.#clientGrants.record(payload.clientId, id, expiresIn);
    await super.upsert(id, payload, expiresIn);
  }

  override async destroy(id: string): Promise<void> {
    await super.destroy(id);
    await this.grantJwts.revoke(id);
  }
}

/** A redeemed code is kept, and read, so that its replay is caught after it expired too (redeemed-codes.ts). */
class AuthorizationCodeAdapter extends KvAdapter {
  override async find(id: string): Promise<Payload | undefined> {
    return asRedeemedCode(await super.find(id));
  }

  override async consume(id: string): Promise<void> {
    await super.consume(id);
    await keepRedeemedCode(this.kv, this.namespace, id);
  }
}

/**
 * oidc-provider's `ReplayDetection.unique` (client assertions of private_key_jwt, DPoP proofs
 * at the token endpoint) asks `find` and then saves: two requests carrying the same assertion
 * at once both find nothing and both pass. Here `find` is itself the atomic claim: only the
 * first caller is told "not seen" (and then saves the record with its real lifetime); every
 * other caller gets a record, i.e. a replay.
 */
class ReplayAdapter extends KvAdapter {
  /** Lifetime of a claim until `unique` saves the record; longer than any assertion or proof is accepted. */
  static readonly CLAIM_SEC = 3600;

  override async find(id: string): Promise<Payload | undefined> {
    const iat = Math.floor(Date.now() / 1000);
    if (await this.kv.claim(this.namespace, id, { jti: id, iat }, ReplayAdapter.CLAIM_SEC)) return undefined;
    return { jti: id, iat };
  }
}

function withConsumed(record: { payload: unknown; consumedAt: number | null } | undefined): Payload | undefined {
  if (!record || typeof record.payload !== 'object' || record.payload === null) return undefined;
  const payload = record.payload as Payload;
  // oidc-provider reads `consumed` (epoch seconds) to detect a reused code or refresh token.
  return record.consumedAt === null ? payload : { ...payload, consumed: Math.floor(record.consumedAt / 1000) };
}

/** Clients are read-only through the provider; management goes through AccountService. */
class ClientAdapter implements OidcAdapter {
  readonly #clients: IdentityClientsRepo;

  constructor(clients: IdentityClientsRepo) {
    this.#clients = clients;
  }

  async find(id: string): Promise<Payload | undefined> {
    const client = await this.#clients.find(id);
    if (!client || client.disabled) return undefined;
    return {
      ...client.metadata,
      client_id: client.clientId,
      client_name: client.name,
      // The SHA-256 of the secret, compared by the overridden compareClientSecret.
      ...(client.secretHash === undefined ? {} : { client_secret: client.secretHash }),
      // Roles, scopes and audiences ride along so that the provider's hooks need no second lookup.
      ...clientFieldsMetadata(client),
    };
  }

  async upsert(): Promise<void> { throw new Error('clients are managed with gatehouse client …'); }
  async findByUserCode(): Promise<undefined> { return undefined; }
  async findByUid(): Promise<undefined> { return undefined; }
  async consume(): Promise<void> { /* clients are never consumed */ }
  async destroy(): Promise<void> { throw new Error('clients are managed with gatehouse client …'); }
  async revokeByGrantId(): Promise<void> { /* clients hold no grants */ }
}

/** The factory handed to oidc-provider's `adapter` configuration. */
export function createAdapterFactory(kv: KvRepo, clients: IdentityClientsRepo, grantJwts: GrantJwts, clientGrants: ClientGrants): (model: string) => OidcAdapter {
  return (model) => {
    switch (model) {
      case 'Client': return new ClientAdapter(clients);
      case 'ReplayDetection': return new ReplayAdapter(kv, clients, grantJwts, model);
      case 'Grant': return new GrantAdapter(kv, clients, grantJwts, clientGrants);
      case 'AuthorizationCode': return new AuthorizationCodeAdapter(kv, clients, grantJwts, model);
      default: return new KvAdapter(kv, clients, grantJwts, model);
    }
  };
}
