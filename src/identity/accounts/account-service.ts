/**
 * Managing users and OAuth clients (service accounts and relying-party apps): the operations
 * behind the `gatehouse user|client …` commands and the admin API. Every change that affects
 * what a principal may do publishes `principal.changed`, so caches on every instance drop it.
 */
import { randomBytes } from 'node:crypto';
import { GatehouseError } from '../../core/errors.ts';
import { toStoreError } from '../../store/store-errors.ts';
import type { ClientRecord, IdentityClientsRepo } from '../../store/repos/identity-clients-repo.ts';
import type { IdentityUsersRepo, UserRecord } from '../../store/repos/identity-users-repo.ts';
import type { ApiTokenService } from '../api-tokens.ts';
import type { IdentityEmit } from '../events.ts';
import { assertPasswordAcceptable, hashPassword } from './passwords.ts';
import { USER_ID_PREFIX } from './principal-directory.ts';
import { OIDC_SCOPES } from '../oidc/scopes.ts';
import { generateClientSecret, hashSecret } from './secrets.ts';
import type { SignOutCutoffs } from './sign-out-cutoff.ts';
import type { ClientGrants } from '../oidc/client-grants.ts';

const USERNAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;
const EMAIL = /^[^\s@<>"]{1,64}@[a-z0-9.-]{1,190}\.[a-z]{2,63}$/i;
const ROLE = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}$/;
const CLIENT_ID = /^[a-z0-9][a-z0-9._-]{2,63}$/;
/** Host names of loopback redirect URIs (as URL.hostname gives them; oidc-provider's list). */
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'tls_client_auth' | 'self_signed_tls_client_auth' | 'none';

export interface AddUserInput {
  username: string;
  email?: string;
  emailVerified?: boolean;
  displayName?: string;
  password?: string;
  roles?: string[];
}

export interface AddClientInput {
  clientId: string;
  kind: 'service' | 'app';
  /**
   * Apps only. `native` (RFC 8252): an app on the user's device that receives the response on
   * a loopback listener; its `http://127.0.0.1/…` (or `[::1]`) redirect URIs match any port,
   * since the operating system picks the port at each run (§7.3) — scheme, host, path and query
   * still match exactly. Default `web`: exact match, port included.
   */
  applicationType?: 'web' | 'native';
  name?: string;
  /** Default: client_secret_basic. */
  authMethod?: ClientAuthMethod;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  roles?: string[];
  allowedScopes?: string[];
  allowedAudiences?: string[];
  /** private_key_jwt / self_signed_tls_client_auth: the client's public keys. */
  jwks?: { keys: Record<string, unknown>[] };
  jwksUri?: string;
  /** tls_client_auth: expected certificate subject DN or SAN URI (SPIFFE ID). */
  tlsClientAuthSubjectDn?: string;
  tlsClientAuthSanUri?: string;
  /** Bind issued access tokens to the client's TLS certificate (RFC 8705). */
  certificateBoundAccessTokens?: boolean;
  /** Require DPoP-bound access tokens (RFC 9449). */
  dpopBoundAccessTokens?: boolean;
}

function invalid(message: string): GatehouseError {
  return new GatehouseError('ERR_IDENTITY_INPUT_INVALID', { publicMessage: message });
}

function checkRoles(roles: string[]): string[] {
  for (const role of roles) if (!ROLE.test(role)) throw invalid(`Invalid role name: ${JSON.stringify(role).slice(0, 80)}`);
  return [...new Set(roles)];
}

function checkUris(uris: string[], what: string): string[] {
  for (const uri of uris) {
    let url: URL;
    try { url = new URL(uri); } catch { throw invalid(`${what}: not an absolute URL`); }
    if (url.hash) throw invalid(`${what}: must not contain a fragment`);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.includes(url.hostname))) {
      throw invalid(`${what}: must be https (http only for localhost)`);
    }
  }
  return uris;
}

export class AccountService {
  readonly #users: IdentityUsersRepo;
  readonly #clients: IdentityClientsRepo;
  readonly #emit: IdentityEmit;
  readonly #cutoffs: SignOutCutoffs | undefined;
  readonly #apiTokens: Pick<ApiTokenService, 'revokeAllOf'> | undefined;
  readonly #clientGrants: Pick<ClientGrants, 'endAll'> | undefined;

  /**
   * @param cutoffs where a reset password or MFA and a disabled user end the user's existing
   *   sign-ins; the identity provider passes its own. Without it they live on.
   * @param apiTokens revokes a removed service account's API tokens (its client id can be
   *   registered again); the identity provider passes its own.
   * @param clientGrants ends everything issued to a removed or disabled client (grants, codes,
   *   refresh and access tokens, JWT access tokens at the gateway); the identity provider passes
   *   its own. Without it they live on until they expire.
   */
  constructor(users: IdentityUsersRepo, clients: IdentityClientsRepo, emit: IdentityEmit, cutoffs?: SignOutCutoffs, apiTokens?: Pick<ApiTokenService, 'revokeAllOf'>, clientGrants?: Pick<ClientGrants, 'endAll'>) {
    this.#users = users;
    this.#clients = clients;
    this.#emit = emit;
    this.#cutoffs = cutoffs;
    this.#apiTokens = apiTokens;
    this.#clientGrants = clientGrants;
  }

  async addUser(input: AddUserInput): Promise<UserRecord> {
    const username = input.username.trim().toLowerCase();
    if (!USERNAME.test(username)) throw invalid('User name: 1–64 lower-case letters, digits, dot, dash, underscore, @');
    if (input.email !== undefined && !EMAIL.test(input.email)) throw invalid('Invalid e-mail address');
    if (input.password !== undefined) assertPasswordAcceptable(input.password);
    const roles = checkRoles(input.roles ?? []);
    if ((await this.#users.findByUsername(username)) || (input.email && (await this.#users.findByEmail(input.email)))) {
      throw new GatehouseError('ERR_IDENTITY_USER_EXISTS', { detail: username });
    }
    const passwordHash = input.password === undefined ? undefined : await hashPassword(input.password);
    let user: UserRecord;
    try {
      user = await this.#users.insert({
        id: USER_ID_PREFIX + randomBytes(12).toString('base64url'), username, email: input.email, emailVerified: input.emailVerified ?? false,
        displayName: input.displayName, passwordHash, roles,
      });
    } catch (error) {
      // A concurrent insert of the same name loses on the unique index.
      if (toStoreError(error).code === 'ERR_STORE_CONFLICT') throw new GatehouseError('ERR_IDENTITY_USER_EXISTS', { detail: username, cause: error });
      throw error;
    }
    this.#emit('principal.changed', { subject: user.id, kind: 'user', change: 'created' });
    return user;
  }

  /** Finds a user by id (`usr_…`), user name or e-mail. */
  async findUser(ref: string): Promise<UserRecord | undefined> {
    if (ref.startsWith(USER_ID_PREFIX)) return this.#users.findById(ref);
    return (await this.#users.findByUsername(ref.toLowerCase())) ?? (ref.includes('@') ? this.#users.findByEmail(ref) : undefined);
  }

  async #requireUser(ref: string): Promise<UserRecord> {
    const user = await this.findUser(ref);
    if (!user) throw new GatehouseError('ERR_IDENTITY_USER_NOT_FOUND', { detail: ref });
    return user;
  }

  listUsers(): Promise<UserRecord[]> {
    return this.#users.list();
  }

  async setUserDisabled(ref: string, disabled: boolean): Promise<UserRecord> {
    const user = await this.#requireUser(ref);
    const updated = (await this.#users.update(user.id, { disabled }))!;
    if (disabled) await this.#cutoffs?.signOut(user.id);
    this.#emit('principal.changed', { subject: user.id, kind: 'user', change: disabled ? 'disabled' : 'enabled' });
    return updated;
  }

  /** Lifts a brute-force lock and clears the failure counter. */
  async unlockUser(ref: string): Promise<UserRecord> {
    const user = await this.#requireUser(ref);
    const updated = (await this.#users.update(user.id, { lockedUntil: undefined, failedLogins: 0 }))!;
    this.#emit('principal.changed', { subject: user.id, kind: 'user', change: 'unlocked' });
    return updated;
  }

  async setUserRoles(ref: string, roles: string[]): Promise<UserRecord> {
    const user = await this.#requireUser(ref);
    const updated = (await this.#users.update(user.id, { roles: checkRoles(roles) }))!;
    this.#emit('principal.changed', { subject: user.id, kind: 'user', change: 'updated' });
    return updated;
  }

  async setPassword(ref: string, password: string): Promise<void> {
    assertPasswordAcceptable(password);
    const user = await this.#requireUser(ref);
    await this.#users.update(user.id, { passwordHash: await hashPassword(password), failedLogins: 0, lockedUntil: undefined });
    // A reset password is usually a compromised one: whoever signed in with it is out too.
    await this.#cutoffs?.signOut(user.id);
    this.#emit('principal.changed', { subject: user.id, kind: 'user', change: 'password' });
  }

  /** Removes TOTP and recovery codes; the user enrolls again at the next login if MFA is required. */
  async resetMfa(ref: string): Promise<void> {
    const user = await this.#requireUser(ref);
    await this.#users.update(user.id, { totpEnabled: false, totpSecretSealed: undefined, totpLastStep: undefined });
    await this.#users.replaceRecoveryCodes(user.id, []);
    await this.#cutoffs?.signOut(user.id);
    this.#emit('principal.changed', { subject: user.id, kind: 'user', change: 'mfa_reset' });
  }

  /** Registers a client; returns the secret once when the auth method uses one. */
  async addClient(input: AddClientInput): Promise<{ client: ClientRecord; secret: string | undefined }> {
    if (!CLIENT_ID.test(input.clientId) || input.clientId.startsWith(USER_ID_PREFIX)) {
      throw invalid('Client id: 3–64 lower-case letters, digits, dot, dash, underscore; not starting with usr_');
    }
    if (await this.#clients.find(input.clientId)) throw new GatehouseError('ERR_IDENTITY_CLIENT_EXISTS', { detail: input.clientId });
    const authMethod = input.authMethod ?? 'client_secret_basic';
    const usesSecret = authMethod === 'client_secret_basic' || authMethod === 'client_secret_post';
    const secret = usesSecret ? generateClientSecret() : undefined;
    const metadata: Record<string, unknown> = { token_endpoint_auth_method: authMethod };
    if (input.kind === 'service') {
      if (authMethod === 'none') throw invalid('A service account must authenticate');
      metadata.grant_types = ['client_credentials'];
      metadata.response_types = [];
      metadata.redirect_uris = [];
    } else {
      const redirectUris = checkUris(input.redirectUris ?? [], 'redirect URI');
      if (!redirectUris.length) throw invalid('An app needs at least one redirect URI');
      if (input.applicationType === 'native') {
        // oidc-provider's rules for native clients (it would refuse the stored client on every request).
        for (const uri of [...redirectUris, ...(input.postLogoutRedirectUris ?? [])]) {
          const url = new URL(uri);
          if ((url.protocol === 'https:') === LOOPBACK_HOSTS.includes(url.hostname)) throw invalid('A native app\'s redirect URIs are http on a loopback address, or https elsewhere');
        }
        metadata.application_type = 'native';
      }
      metadata.grant_types = ['authorization_code', 'refresh_token'];
      metadata.response_types = ['code'];
      metadata.redirect_uris = redirectUris;
      metadata.post_logout_redirect_uris = checkUris(input.postLogoutRedirectUris ?? [], 'post-logout redirect URI');
    }
    if (input.jwks) metadata.jwks = input.jwks;
    if (input.jwksUri) metadata.jwks_uri = checkUris([input.jwksUri], 'jwks_uri')[0];
    if ((authMethod === 'private_key_jwt' || authMethod === 'self_signed_tls_client_auth') && !input.jwks && !input.jwksUri) throw invalid(`${authMethod} needs jwks or jwksUri`);
    if (authMethod === 'tls_client_auth') {
      if (input.tlsClientAuthSanUri) metadata.tls_client_auth_san_uri = input.tlsClientAuthSanUri;
      else if (input.tlsClientAuthSubjectDn) metadata.tls_client_auth_subject_dn = input.tlsClientAuthSubjectDn;
      else throw invalid('tls_client_auth needs the certificate subject DN or SAN URI');
    }
    if (input.certificateBoundAccessTokens) metadata.tls_client_certificate_bound_access_tokens = true;
    if (input.dpopBoundAccessTokens) metadata.dpop_bound_access_tokens = true;
    const allowedScopes = [...new Set(input.allowedScopes ?? (input.kind === 'app' ? ['openid', 'profile', 'email', 'roles', 'offline_access'] : []))];
    for (const s of allowedScopes) if (!/^[\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(s)) throw invalid('Invalid scope');
    // Client metadata may only name the provider's own (OIDC) scopes; resource scopes are
    // bounded per resource in getResourceServerInfo from allowedScopes.
    const oidcScopes = allowedScopes.filter((s) => (OIDC_SCOPES as readonly string[]).includes(s));
    // An app signs people in with OpenID Connect: without openid in its metadata the provider
    // refuses every authorization request of it (invalid_client_metadata), so refuse it here.
    if (input.kind === 'app' && !oidcScopes.includes('openid')) throw invalid('An app client needs the openid scope');
    if (input.kind === 'app') metadata.scope = oidcScopes.join(' ');
    const client = await this.#clients.insert({
      clientId: input.clientId, kind: input.kind, name: input.name ?? input.clientId, metadata,
      secretHash: secret === undefined ? undefined : hashSecret(secret), roles: checkRoles(input.roles ?? []),
      allowedScopes, allowedAudiences: checkUris(input.allowedAudiences ?? [], 'audience'),
    });
    if (input.kind === 'service') this.#emit('principal.changed', { subject: client.clientId, kind: 'service', change: 'created' });
    return { client, secret };
  }

  listClients(): Promise<ClientRecord[]> {
    return this.#clients.list();
  }

  async rotateClientSecret(clientId: string): Promise<string> {
    const client = await this.#clients.find(clientId);
    if (!client) throw new GatehouseError('ERR_IDENTITY_CLIENT_NOT_FOUND', { detail: clientId });
    if (client.secretHash === undefined) throw invalid('This client does not authenticate with a secret');
    const secret = generateClientSecret();
    await this.#clients.update(clientId, { secretHash: hashSecret(secret) });
    if (client.kind === 'service') this.#emit('principal.changed', { subject: clientId, kind: 'service', change: 'secret_rotated' });
    return secret;
  }

  /**
   * Disabling a client also ends everything issued to it, as removing it does: enabling it again
   * revives none of it (its users sign in again), as a disabled user's sign-ins stay over.
   */
  async setClientDisabled(clientId: string, disabled: boolean): Promise<void> {
    const client = await this.#clients.update(clientId, { disabled });
    if (!client) throw new GatehouseError('ERR_IDENTITY_CLIENT_NOT_FOUND', { detail: clientId });
    if (disabled) await this.#endClientTokens(client, 'disabled');
    if (client.kind === 'service') this.#emit('principal.changed', { subject: clientId, kind: 'service', change: disabled ? 'disabled' : 'enabled' });
  }

  /**
   * Removes a client and ends everything issued to it, whatever its kind: its id may be
   * registered again, by another administrator for another app.
   */
  async removeClient(clientId: string): Promise<void> {
    const client = await this.#clients.find(clientId);
    if (!client || !(await this.#clients.remove(clientId))) throw new GatehouseError('ERR_IDENTITY_CLIENT_NOT_FOUND', { detail: clientId });
    if (client.kind === 'service') await this.#apiTokens?.revokeAllOf('service', clientId);
    await this.#endClientTokens(client, 'removed');
    if (client.kind === 'service') this.#emit('principal.changed', { subject: clientId, kind: 'service', change: 'removed' });
  }

  /** After the client was changed in the store (so nothing issued meanwhile escapes: grant-jwts.ts). */
  async #endClientTokens(client: ClientRecord, reason: 'removed' | 'disabled'): Promise<void> {
    if (this.#clientGrants === undefined) return;
    const ended = await this.#clientGrants.endAll(client.clientId);
    this.#emit('identity.client.tokens_revoked', { clientId: client.clientId, kind: client.kind, reason, ...ended });
  }
}
