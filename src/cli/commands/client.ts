/**
 * `gatehouse client add|list|rotate-secret|remove` — OAuth clients: service accounts
 * (client credentials) and relying-party apps. A client secret is printed once, at add and
 * at rotation; only its hash is stored.
 */
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { GatehouseError } from '../../core/errors.ts';
import { clientAdd, clientList, clientRemove, clientSetDisabled, clientRotateSecret, type ClientSummary } from '../../identity/commands/index.ts';
import type { AddClientInput, ClientAuthMethod } from '../../identity/index.ts';
import { withCliContext } from '../context.ts';
import { action, emit, formatRecord, formatTable, showSecretOnce, type Column } from '../output.ts';
import { collect, stateful, type StateOptions } from '../options.ts';

const AUTH_METHODS: ClientAuthMethod[] = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth', 'none'];

const COLUMNS: Column<ClientSummary>[] = [
  { header: 'client id', value: (c) => c.clientId },
  { header: 'kind', value: (c) => c.kind },
  { header: 'type', value: (c) => c.applicationType },
  { header: 'name', value: (c) => c.name },
  { header: 'auth', value: (c) => c.authMethod },
  { header: 'roles', value: (c) => c.roles },
  { header: 'scopes', value: (c) => c.allowedScopes },
  { header: 'audiences', value: (c) => c.allowedAudiences },
  { header: 'redirect uris', value: (c) => c.redirectUris },
  { header: 'disabled', value: (c) => c.disabled },
];

interface AddOptions extends StateOptions {
  kind: 'service' | 'app';
  native?: boolean;
  name?: string;
  authMethod?: ClientAuthMethod;
  redirectUri?: string[];
  postLogoutRedirectUri?: string[];
  role?: string[];
  scope?: string[];
  audience?: string[];
  jwks?: string;
  jwksUri?: string;
  tlsSubjectDn?: string;
  tlsSanUri?: string;
  certificateBound?: boolean;
  dpopBound?: boolean;
}

/** A JWKS file as `{ keys: [...] }`; anything else is refused before the store is touched. */
async function readJwks(file: string): Promise<{ keys: Record<string, unknown>[] }> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (cause) {
    throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: `${file}: not a readable JSON file`, cause });
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'object' && k !== null && !Array.isArray(k))) {
    throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: `${file}: expected a JWKS ({ "keys": [ … ] })` });
  }
  if (keys.some((k) => 'd' in (k as object))) {
    throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: `${file}: contains a private key; register public keys only` });
  }
  return { keys: keys as Record<string, unknown>[] };
}

async function addInput(clientId: string, o: AddOptions): Promise<AddClientInput> {
  if (o.native && o.kind !== 'app') throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: '--native is for apps (--kind app)' });
  // A secret shipped inside a native app is no secret (RFC 8252 §8.5): public unless told otherwise.
  const authMethod = o.authMethod ?? (o.native ? 'none' : undefined);
  return {
    clientId, kind: o.kind,
    ...(o.native ? { applicationType: 'native' as const } : {}),
    ...(o.name ? { name: o.name } : {}),
    ...(authMethod ? { authMethod } : {}),
    ...(o.redirectUri ? { redirectUris: o.redirectUri } : {}),
    ...(o.postLogoutRedirectUri ? { postLogoutRedirectUris: o.postLogoutRedirectUri } : {}),
    ...(o.role ? { roles: o.role } : {}),
    ...(o.scope ? { allowedScopes: o.scope } : {}),
    ...(o.audience ? { allowedAudiences: o.audience } : {}),
    ...(o.jwks ? { jwks: await readJwks(o.jwks) } : {}),
    ...(o.jwksUri ? { jwksUri: o.jwksUri } : {}),
    ...(o.tlsSubjectDn ? { tlsClientAuthSubjectDn: o.tlsSubjectDn } : {}),
    ...(o.tlsSanUri ? { tlsClientAuthSanUri: o.tlsSanUri } : {}),
    ...(o.certificateBound ? { certificateBoundAccessTokens: true } : {}),
    ...(o.dpopBound ? { dpopBoundAccessTokens: true } : {}),
  };
}

export function registerClient(program: Command): void {
  const client = program.command('client').description('manage OAuth clients (service accounts and apps)');

  stateful(client.command('add')
    .argument('<client-id>', 'client id (3–64 lower-case letters, digits, dot, dash, underscore)')
    .description('register a client; a generated client secret is printed once')
    .addOption(new Option('--kind <kind>', 'service (client credentials) or app (sign-in with code + PKCE)').choices(['service', 'app']).makeOptionMandatory())
    .option('--native', 'app: a native (desktop or mobile) app; its http loopback redirect URIs match any port (RFC 8252); auth method none unless --auth-method')
    .option('--name <name>', 'display name')
    .addOption(new Option('--auth-method <method>', 'token endpoint authentication (default client_secret_basic; none with --native)').choices(AUTH_METHODS))
    .option('--redirect-uri <uri>', 'app: exact redirect URI (repeatable)', collect)
    .option('--post-logout-redirect-uri <uri>', 'app: redirect URI after logout (repeatable)', collect)
    .option('--role <role>', 'service: role to grant (repeatable, or comma-separated)', collect)
    .option('--scope <scope>', 'allowed scope (repeatable, or comma-separated)', collect)
    .option('--audience <uri>', 'allowed token audience / resource (repeatable)', collect)
    .option('--jwks <file>', 'private_key_jwt / self_signed_tls_client_auth: the client\'s public JWKS file')
    .option('--jwks-uri <uri>', 'private_key_jwt: URL of the client\'s JWKS')
    .option('--tls-subject-dn <dn>', 'tls_client_auth: expected certificate subject DN')
    .option('--tls-san-uri <uri>', 'tls_client_auth: expected certificate SAN URI (e.g. a SPIFFE id)')
    .option('--certificate-bound', 'bind access tokens to the client certificate (RFC 8705)')
    .option('--dpop-bound', 'require DPoP-bound access tokens (RFC 9449)'))
    .action(action(async (clientId: string, o: AddOptions) => {
      const input = await addInput(clientId, o);
      const { client: added, secret } = await withCliContext(o, async (ctx) => clientAdd(await ctx.identity(), input), {
        action: 'client.add', resource: clientId,
        details: { kind: o.kind, authMethod: input.authMethod, roles: o.role ?? [], scopes: o.scope ?? [], audiences: o.audience ?? [], redirectUris: o.redirectUri ?? [] },
      });
      emit(o.json, { client: added, ...(secret ? { secret } : {}) }, () => formatRecord(COLUMNS.map((c) => [c.header, c.value(added)] as const)));
      if (secret && !o.json) showSecretOnce('client secret', secret);
    }));

  stateful(client.command('list').description('list clients'))
    .action(action(async (o: StateOptions) => {
      const clients = await withCliContext(o, async (ctx) => clientList(await ctx.identity()));
      emit(o.json, clients, () => formatTable(clients, COLUMNS));
    }));

  stateful(client.command('rotate-secret')
    .argument('<client-id>', 'client id')
    .description('replace the client secret (the old one stops working at once); the new one is printed once'))
    .action(action(async (clientId: string, o: StateOptions) => {
      const { secret } = await withCliContext(o, async (ctx) => clientRotateSecret(await ctx.identity(), clientId), { action: 'client.rotate-secret', resource: clientId });
      emit(o.json, { clientId, secret }, () => `secret of ${clientId} rotated`);
      if (!o.json) showSecretOnce('client secret', secret);
    }));

  for (const [verb, disabled, description] of [
    ['disable', true, 'stop a client: it gets no token, and what it was issued ends at once (grants, refresh and access tokens, its JWTs at every gateway, tunnels opened with them)'],
    ['enable', false, 'let a disabled client get tokens again (nothing issued before it was disabled comes back)'],
  ] as const) {
    stateful(client.command(verb)
      .argument('<client-id>', 'client id')
      .description(description))
      .action(action(async (clientId: string, o: StateOptions) => {
        await withCliContext(o, async (ctx) => clientSetDisabled(await ctx.identity(), clientId, disabled), { action: `client.${verb}`, resource: clientId });
        emit(o.json, { clientId, disabled }, () => `client ${clientId} ${verb}d`);
      }));
  }

  stateful(client.command('remove')
    .argument('<client-id>', 'client id')
    .description('delete a client'))
    .action(action(async (clientId: string, o: StateOptions) => {
      await withCliContext(o, async (ctx) => clientRemove(await ctx.identity(), clientId), { action: 'client.remove', resource: clientId });
      emit(o.json, { clientId, removed: true }, () => `client ${clientId} removed`);
    }));
}
