/**
 * OAuth clients: service accounts (client credentials) and relying parties (apps).
 * The secret is never stored, only its SHA-256 (it is a 256-bit random value).
 */
import type { Kysely, Selectable } from 'kysely';
import { GatehouseError, isGatehouseError } from '../../core/errors.ts';
import type { IdentityClientsTable } from '../tables/identity.ts';
import type { Database } from '../database.ts';
import { canMatch } from './lookup-value.ts';

export type ClientKind = 'service' | 'app';

export interface ClientRecord {
  clientId: string;
  kind: ClientKind;
  name: string;
  /** OIDC client metadata (redirect_uris, grant_types, token_endpoint_auth_method, jwks …). */
  metadata: Record<string, unknown>;
  secretHash: string | undefined;
  roles: string[];
  allowedScopes: string[];
  allowedAudiences: string[];
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
}

export type NewClient = Omit<ClientRecord, 'createdAt' | 'updatedAt' | 'disabled'>;
export type ClientPatch = Partial<Pick<ClientRecord, 'name' | 'metadata' | 'secretHash' | 'roles' | 'allowedScopes' | 'allowedAudiences' | 'disabled'>>;

function toRecord(row: Selectable<IdentityClientsTable>): ClientRecord {
  return {
    clientId: row.client_id, kind: row.kind === 'service' ? 'service' : 'app', name: row.name,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>, secretHash: row.secret_hash ?? undefined,
    roles: JSON.parse(row.roles) as string[], allowedScopes: JSON.parse(row.allowed_scopes) as string[],
    allowedAudiences: JSON.parse(row.allowed_audiences) as string[], disabled: row.disabled === 1,
    createdAt: Number(row.created_at), updatedAt: Number(row.updated_at),
  };
}

export class IdentityClientsRepo {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Throws ERR_IDENTITY_CLIENT_EXISTS when the id is taken, also when another instance inserted
   * it after the caller looked (instances starting at once all register the gateway's client).
   */
  async insert(client: NewClient, now = Date.now()): Promise<ClientRecord> {
    try {
      await this.#db.insertInto('identity_clients').values({
        client_id: client.clientId, kind: client.kind, name: client.name, metadata: JSON.stringify(client.metadata),
        secret_hash: client.secretHash ?? null, roles: JSON.stringify(client.roles), allowed_scopes: JSON.stringify(client.allowedScopes),
        allowed_audiences: JSON.stringify(client.allowedAudiences), disabled: 0, created_at: now, updated_at: now,
      }).execute();
    } catch (error) {
      if (isGatehouseError(error) && error.code === 'ERR_STORE_CONFLICT') throw new GatehouseError('ERR_IDENTITY_CLIENT_EXISTS', { detail: client.clientId, cause: error });
      throw error;
    }
    return (await this.find(client.clientId))!;
  }

  async find(clientId: string): Promise<ClientRecord | undefined> {
    if (!canMatch(clientId)) return undefined;
    const row = await this.#db.selectFrom('identity_clients').selectAll().where('client_id', '=', clientId).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async list(): Promise<ClientRecord[]> {
    return (await this.#db.selectFrom('identity_clients').selectAll().orderBy('client_id').execute()).map(toRecord);
  }

  async update(clientId: string, patch: ClientPatch, now = Date.now()): Promise<ClientRecord | undefined> {
    const set: Partial<Record<keyof IdentityClientsTable, unknown>> = { updated_at: now };
    if ('name' in patch) set.name = patch.name;
    if ('metadata' in patch) set.metadata = JSON.stringify(patch.metadata ?? {});
    if ('secretHash' in patch) set.secret_hash = patch.secretHash ?? null;
    if ('roles' in patch) set.roles = JSON.stringify(patch.roles ?? []);
    if ('allowedScopes' in patch) set.allowed_scopes = JSON.stringify(patch.allowedScopes ?? []);
    if ('allowedAudiences' in patch) set.allowed_audiences = JSON.stringify(patch.allowedAudiences ?? []);
    if ('disabled' in patch) set.disabled = patch.disabled ? 1 : 0;
    await this.#db.updateTable('identity_clients').set(set as never).where('client_id', '=', clientId).execute();
    return this.find(clientId);
  }

  async remove(clientId: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('identity_clients').where('client_id', '=', clientId).executeTakeFirst();
    return result.numDeletedRows === 1n;
  }
}
