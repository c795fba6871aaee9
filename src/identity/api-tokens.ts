/**
 * API tokens (`ghs_…`): long-lived bearer credentials for scripts and CI, owned by a user
 * or a service account. Shown once, stored as SHA-256, scoped to a subset of the owner's
 * roles (checked when created and again on every use, so a role removed from the owner is
 * removed from all its tokens at once), expiring, revocable, last use recorded.
 */
import { randomBytes } from 'node:crypto';
import { GatehouseError, type ErrorCode } from '../core/errors.ts';
import type { IdentityApiTokensRepo, ApiTokenRecord } from '../store/repos/identity-api-tokens-repo.ts';
import { API_TOKEN_PREFIX, generateApiToken, hashSecret } from './accounts/secrets.ts';
import type { Principal, PrincipalDirectory } from './accounts/principal-directory.ts';
import type { IdentityEmit } from './events.ts';

/** A valid token: who it stands for and what it may do (effective roles). */
export interface VerifiedApiToken {
  tokenId: string;
  subject: string;
  kind: 'user' | 'service';
  /** Token roles that the owner still holds. */
  roles: readonly string[];
  /** Epoch seconds. */
  expiresAt: number;
  principal: Principal;
}

export interface CreatedApiToken {
  /** The secret; shown once, never stored. */
  token: string;
  tokenId: string;
  expiresAt: number;
  roles: string[];
}

/** Public description of a token (no secret, no hash). */
export interface ApiTokenInfo {
  tokenId: string;
  name: string;
  ownerKind: 'user' | 'service';
  ownerId: string;
  roles: string[];
  expiresAt: number;
  lastUsedAt: number | undefined;
  revokedAt: number | undefined;
  createdAt: number;
}

const TOKEN_SHAPE = new RegExp(`^${API_TOKEN_PREFIX}[A-Za-z0-9_-]{43}$`);

export interface ApiTokenServiceOptions {
  repo: IdentityApiTokensRepo;
  directory: PrincipalDirectory;
  emit: IdentityEmit;
  defaultLifetimeDays: number;
  maxLifetimeDays: number;
}

export class ApiTokenService {
  readonly #o: ApiTokenServiceOptions;

  constructor(options: ApiTokenServiceOptions) {
    this.#o = options;
  }

  /** Creates a token for `ownerSubject`; roles default to all of the owner's roles. */
  async create(input: { ownerSubject: string; name: string; roles?: string[]; lifetimeDays?: number }): Promise<CreatedApiToken> {
    const owner = await this.#o.directory.getPrincipal(input.ownerSubject);
    if (!owner) throw new GatehouseError('ERR_IDENTITY_USER_NOT_FOUND', { detail: `no principal ${input.ownerSubject}` });
    if (owner.disabled) throw new GatehouseError('ERR_AUTHN_PRINCIPAL_DISABLED', { detail: `owner ${owner.subject} is disabled` });
    if (!/^[\w .:@-]{1,64}$/.test(input.name)) throw new GatehouseError('ERR_IDENTITY_INPUT_INVALID', { publicMessage: 'Token name: 1–64 letters, digits, space, dot, colon, @, dash, underscore' });
    const roles = [...new Set(input.roles ?? owner.roles)];
    const excess = roles.filter((r) => !owner.roles.includes(r));
    if (excess.length) throw new GatehouseError('ERR_IDENTITY_API_TOKEN_SCOPE', { detail: `roles ${excess.join(', ')} not held by ${owner.subject}` });
    const days = input.lifetimeDays ?? this.#o.defaultLifetimeDays;
    if (!Number.isInteger(days) || days < 1 || days > this.#o.maxLifetimeDays) {
      throw new GatehouseError('ERR_IDENTITY_INPUT_INVALID', { publicMessage: `Lifetime must be 1–${this.#o.maxLifetimeDays} days` });
    }
    const token = generateApiToken();
    const now = Date.now();
    const tokenId = `tok_${randomBytes(9).toString('base64url')}`;
    const expiresAt = now + days * 86_400_000;
    await this.#o.repo.insert({ id: tokenId, tokenHash: hashSecret(token), name: input.name, ownerKind: owner.kind, ownerId: owner.subject, roles, expiresAt, createdAt: now });
    this.#o.emit('identity.api_token.created', { tokenId, ownerKind: owner.kind, ownerId: owner.subject, roles, expiresAt: new Date(expiresAt).toISOString() });
    return { token, tokenId, expiresAt: Math.floor(expiresAt / 1000), roles };
  }

  /**
   * Checks a presented token; returns the verified token or the error code that says why not
   * (ERR_AUTHN_TOKEN_INVALID / _EXPIRED / _REVOKED, ERR_AUTHN_PRINCIPAL_DISABLED).
   */
  async inspect(token: string): Promise<VerifiedApiToken | { code: ErrorCode }> {
    // Shape check first: junk never reaches the store.
    if (!TOKEN_SHAPE.test(token)) return { code: 'ERR_AUTHN_TOKEN_INVALID' };
    const record = await this.#o.repo.findByHash(hashSecret(token));
    if (!record) return { code: 'ERR_AUTHN_TOKEN_INVALID' };
    if (record.revokedAt !== undefined) return { code: 'ERR_AUTHN_TOKEN_REVOKED' };
    const now = Date.now();
    if (record.expiresAt <= now) return { code: 'ERR_AUTHN_TOKEN_EXPIRED' };
    const owner = await this.#o.directory.getPrincipal(record.ownerId);
    if (!owner || owner.kind !== record.ownerKind) return { code: 'ERR_AUTHN_TOKEN_INVALID' };
    if (owner.disabled) return { code: 'ERR_AUTHN_PRINCIPAL_DISABLED' };
    await this.#o.repo.touch(record.id, now);
    return {
      tokenId: record.id, subject: owner.subject, kind: owner.kind,
      roles: Object.freeze(record.roles.filter((r) => owner.roles.includes(r))),
      expiresAt: Math.floor(record.expiresAt / 1000), principal: owner,
    };
  }

  /** `ApiTokenVerifier` shape for src/authn: the verified token, or undefined. */
  async verify(token: string): Promise<VerifiedApiToken | undefined> {
    const result = await this.inspect(token);
    return 'code' in result ? undefined : result;
  }

  async list(ownerSubject?: string): Promise<ApiTokenInfo[]> {
    let records: ApiTokenRecord[];
    if (ownerSubject === undefined) records = await this.#o.repo.listAll();
    else {
      const owner = await this.#o.directory.getPrincipal(ownerSubject);
      records = owner ? await this.#o.repo.listByOwner(owner.kind, owner.subject) : [];
    }
    return records.map((r) => ({ tokenId: r.id, name: r.name, ownerKind: r.ownerKind, ownerId: r.ownerId, roles: r.roles, expiresAt: r.expiresAt, lastUsedAt: r.lastUsedAt, revokedAt: r.revokedAt, createdAt: r.createdAt }));
  }

  /**
   * Revokes every token of an owner that is going away. A service account's id is its client
   * id, which can be registered again: its old tokens must not then stand for the new client.
   */
  async revokeAllOf(ownerKind: 'user' | 'service', ownerId: string): Promise<void> {
    for (const record of await this.#o.repo.listByOwner(ownerKind, ownerId)) {
      if (record.revokedAt === undefined && (await this.#o.repo.revoke(record.id))) {
        this.#o.emit('identity.api_token.revoked', { tokenId: record.id, ownerKind, ownerId });
      }
    }
  }

  async revoke(tokenId: string): Promise<void> {
    const record = await this.#o.repo.find(tokenId);
    if (!record) throw new GatehouseError('ERR_IDENTITY_API_TOKEN_NOT_FOUND', { detail: tokenId });
    if (await this.#o.repo.revoke(tokenId)) {
      this.#o.emit('identity.api_token.revoked', { tokenId, ownerKind: record.ownerKind, ownerId: record.ownerId });
    }
  }
}
