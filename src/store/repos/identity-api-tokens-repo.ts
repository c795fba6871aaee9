/** API tokens: stored by SHA-256 of the token, never the token itself. */
import type { Kysely, Selectable } from 'kysely';
import type { IdentityApiTokensTable } from '../tables/identity.ts';
import type { Database } from '../database.ts';
import { canMatch } from './lookup-value.ts';

export interface ApiTokenRecord {
  id: string;
  tokenHash: string;
  name: string;
  ownerKind: 'user' | 'service';
  ownerId: string;
  roles: string[];
  expiresAt: number;
  lastUsedAt: number | undefined;
  revokedAt: number | undefined;
  createdAt: number;
}

function toRecord(row: Selectable<IdentityApiTokensTable>): ApiTokenRecord {
  return {
    id: row.id, tokenHash: row.token_hash, name: row.name, ownerKind: row.owner_kind === 'service' ? 'service' : 'user',
    ownerId: row.owner_id, roles: JSON.parse(row.roles) as string[], expiresAt: Number(row.expires_at),
    lastUsedAt: row.last_used_at === null ? undefined : Number(row.last_used_at),
    revokedAt: row.revoked_at === null ? undefined : Number(row.revoked_at), createdAt: Number(row.created_at),
  };
}

export class IdentityApiTokensRepo {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(token: Omit<ApiTokenRecord, 'lastUsedAt' | 'revokedAt'>): Promise<void> {
    await this.#db.insertInto('identity_api_tokens').values({
      id: token.id, token_hash: token.tokenHash, name: token.name, owner_kind: token.ownerKind, owner_id: token.ownerId,
      roles: JSON.stringify(token.roles), expires_at: token.expiresAt, last_used_at: null, revoked_at: null, created_at: token.createdAt,
    }).execute();
  }

  async findByHash(tokenHash: string): Promise<ApiTokenRecord | undefined> {
    if (!canMatch(tokenHash)) return undefined;
    const row = await this.#db.selectFrom('identity_api_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async find(id: string): Promise<ApiTokenRecord | undefined> {
    if (!canMatch(id)) return undefined;
    const row = await this.#db.selectFrom('identity_api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async listByOwner(ownerKind: 'user' | 'service', ownerId: string): Promise<ApiTokenRecord[]> {
    const rows = await this.#db.selectFrom('identity_api_tokens').selectAll()
      .where('owner_kind', '=', ownerKind).where('owner_id', '=', ownerId).orderBy('created_at').execute();
    return rows.map(toRecord);
  }

  async listAll(): Promise<ApiTokenRecord[]> {
    return (await this.#db.selectFrom('identity_api_tokens').selectAll().orderBy('created_at').execute()).map(toRecord);
  }

  /** Records use at most once a minute per token, so verification is not a write per request. */
  async touch(id: string, now = Date.now()): Promise<void> {
    await this.#db.updateTable('identity_api_tokens').set({ last_used_at: now }).where('id', '=', id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', now - 60_000)])).execute();
  }

  async revoke(id: string, now = Date.now()): Promise<boolean> {
    const result = await this.#db.updateTable('identity_api_tokens').set({ revoked_at: now })
      .where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }
}
