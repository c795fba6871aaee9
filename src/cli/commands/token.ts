/**
 * `gatehouse token create|list|revoke` — API tokens (`ghs_…`) for scripts and CI. The token
 * is printed once at creation; `list` never shows it (only its id), and the store keeps a hash.
 */
import type { Command } from 'commander';
import { decodeJwt } from 'jose';
import { GatehouseError } from '../../core/errors.ts';
import { createAuthnRevokedTokenRepo } from '../../store/repos/authn-revoked-tokens-repo.ts';
import { tokenCreate, tokenList, tokenRevoke } from '../../identity/commands/index.ts';
import type { ApiTokenInfo } from '../../identity/index.ts';
import { withCliContext } from '../context.ts';
import { action, emit, formatRecord, formatTable, showSecretOnce } from '../output.ts';
import { collect, positiveInt, stateful, type StateOptions } from '../options.ts';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function status(t: ApiTokenInfo, now: number): string {
  if (t.revokedAt !== undefined) return 'revoked';
  return t.expiresAt <= now ? 'expired' : 'active';
}

export function registerToken(program: Command): void {
  const token = program.command('token').description('manage API tokens');

  stateful(token.command('create')
    .description('create an API token for a user or service account; the token is printed once')
    .requiredOption('--owner <owner>', 'user name, e-mail or id, or a service client id')
    .requiredOption('--name <name>', 'what the token is for (1–64 characters)')
    .option('--role <role>', 'role the token carries, a subset of the owner\'s (repeatable; default: all of them)', collect)
    .option('--days <n>', 'lifetime in days (default identity.apiTokens.defaultLifetimeDays)', positiveInt))
    .action(action(async (o: StateOptions & { owner: string; name: string; role?: string[]; days?: number }) => {
      const created = await withCliContext(o, async (ctx) => tokenCreate(await ctx.identity(), {
        owner: o.owner, name: o.name, ...(o.role ? { roles: o.role } : {}), ...(o.days ? { lifetimeDays: o.days } : {}),
      }), { action: 'token.create', details: { owner: o.owner, name: o.name, roles: o.role ?? [], days: o.days }, result: (t) => ({ resource: t.tokenId }) });
      const expiresAt = new Date(created.expiresAt * 1000).toISOString();
      emit(o.json, { tokenId: created.tokenId, token: created.token, roles: created.roles, expiresAt },
        () => formatRecord([['token id', created.tokenId], ['owner', o.owner], ['roles', created.roles], ['expires', expiresAt]]));
      if (!o.json) showSecretOnce('API token', created.token);
    }));

  stateful(token.command('list')
    .description('list API tokens (never their values)')
    .option('--owner <owner>', 'only tokens of this user or service account'))
    .action(action(async (o: StateOptions & { owner?: string }) => {
      const tokens = await withCliContext(o, async (ctx) => tokenList(await ctx.identity(), o.owner));
      const now = Date.now();
      const rows = tokens.map((t) => ({
        tokenId: t.tokenId, name: t.name, ownerKind: t.ownerKind, ownerId: t.ownerId, roles: t.roles, status: status(t, now),
        createdAt: iso(t.createdAt), expiresAt: iso(t.expiresAt), lastUsedAt: iso(t.lastUsedAt), revokedAt: iso(t.revokedAt),
      }));
      emit(o.json, rows, () => formatTable(rows, [
        { header: 'token id', value: (r) => r.tokenId }, { header: 'name', value: (r) => r.name },
        { header: 'owner', value: (r) => `${r.ownerKind}:${r.ownerId}` }, { header: 'roles', value: (r) => r.roles },
        { header: 'status', value: (r) => r.status }, { header: 'expires', value: (r) => r.expiresAt }, { header: 'last used', value: (r) => r.lastUsedAt },
      ]));
    }));

  stateful(token.command('revoke')
    .argument('<token-id>', 'token id (tok_…), as shown by `token list`')
    .description('revoke an API token; every instance refuses it from now on'))
    .action(action(async (tokenId: string, o: StateOptions) => {
      await withCliContext(o, async (ctx) => tokenRevoke(await ctx.identity(), tokenId), { action: 'token.revoke', resource: tokenId });
      emit(o.json, { tokenId, revoked: true }, () => `token ${tokenId} revoked`);
    }));

  stateful(token.command('revoke-jwt')
    .argument('<jwt>', 'the bearer JWT to revoke (its signature is not checked: only its iss, jti and exp are read)')
    .description('revoke a JWT access token at the gateway by its issuer and jti: every instance refuses it from now on (within authn.maintenance.revocationRefreshMs if an instance misses the event)'))
    .action(action(async (jwt: string, o: StateOptions) => {
      const { iss, jti, exp } = jwtIdentity(jwt);
      await withCliContext(o, async (ctx) => {
        // The store is the record every instance re-reads; the event makes running instances drop it from their caches at once.
        await createAuthnRevokedTokenRepo(ctx.store.db).add(iss, jti, exp);
        ctx.bus.publish('authn.invalidated', { type: 'token.revoked', issuer: iss, jti, expiresAt: exp });
      }, { action: 'token.revoke-jwt', resource: jti, details: { issuer: iss, jti, expiresAt: new Date(exp * 1000).toISOString() } }); // never the JWT itself
      emit(o.json, { issuer: iss, jti, expiresAt: new Date(exp * 1000).toISOString(), revoked: true }, () => `JWT ${jti} of ${iss} revoked until it expires (${new Date(exp * 1000).toISOString()})`);
    }));
}

/** iss, jti and exp of a JWT, refusing one that lacks any (it could not be revoked by id: a jti is unique only within its issuer). */
function jwtIdentity(jwt: string): { iss: string; jti: string; exp: number } {
  let claims: ReturnType<typeof decodeJwt>;
  try {
    claims = decodeJwt(jwt.trim());
  } catch {
    throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { detail: 'not a JWT' });
  }
  if (typeof claims.jti !== 'string' || claims.jti === '') throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { detail: 'the JWT has no jti claim: it cannot be revoked by id' });
  if (typeof claims.iss !== 'string' || claims.iss === '') throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { detail: 'the JWT has no iss claim: its jti names no token by itself' });
  if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { detail: 'the JWT has no exp claim' });
  return { iss: claims.iss, jti: claims.jti, exp: claims.exp };
}
