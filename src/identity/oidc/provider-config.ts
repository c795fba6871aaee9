/**
 * oidc-provider configuration for Gatehouse: which features are on, how tokens look, and
 * the hooks into Gatehouse's accounts. Every default that oidc-provider marks "must
 * change" is replaced here.
 */
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { JWK } from 'jose';
import { errors } from 'oidc-provider';
import { NodeSigningKey } from '../keys/signing-key.ts';
import type { IdentityConfig } from '../../core/config/identity-schema.ts';
import type { IdentityClientsRepo } from '../../store/repos/identity-clients-repo.ts';
import type { IdentityUsersRepo } from '../../store/repos/identity-users-repo.ts';
import type { SignOutCutoffs } from '../accounts/sign-out-cutoff.ts';
import { errorPage, logoutPage, postLogoutPage } from '../interaction/pages.ts';
import type { OidcAdapter } from './store-adapter.ts';
import { createInteractionPolicy } from './interaction-policy.ts';
import { clientFields, GATEHOUSE_CLIENT_PROPERTIES, validateClientField, type GatehouseClientFields } from './client-fields.ts';
import { OIDC_SCOPES } from './scopes.ts';
import { IDP_COOKIE_NAMES } from './cookie-names.ts';
import type { BrowserBinding } from '../interaction/browser-binding.ts';
import { assertClientCredentialsScope } from './client-credentials-scope.ts';
import { providerBlockCheck, type SubjectBlockGuard } from './subject-block-guard.ts';
import type { GrantJwts } from './grant-jwts.ts';

export { OIDC_SCOPES };

const OIDC_SCOPE_SET = new Set<string>(OIDC_SCOPES);

/** Paths of the provider's endpoints (all under /oidc so the gateway can claim them by prefix). */
export const OIDC_ROUTES = {
  authorization: '/oidc/auth',
  token: '/oidc/token',
  jwks: '/oidc/jwks',
  userinfo: '/oidc/me',
  introspection: '/oidc/token/introspection',
  revocation: '/oidc/token/revocation',
  end_session: '/oidc/session/end',
  pushed_authorization_request: '/oidc/request',
  registration: '/oidc/reg',
  code_verification: '/oidc/device',
  device_authorization: '/oidc/device/auth',
  backchannel_authentication: '/oidc/backchannel',
  challenge: '/oidc/challenge',
  credential: '/oidc/credential',
} as const;

export interface ProviderConfigInput {
  identity: IdentityConfig;
  publicUrl: string;
  jwks: JWK[];
  cookieKeys: string[];
  adapter: (model: string) => OidcAdapter;
  users: IdentityUsersRepo;
  clients: IdentityClientsRepo;
  cutoffs: SignOutCutoffs;
  /** Binds each interaction to the browser that starts it (`__Host-` cookie). */
  binding: BrowserBinding;
  /** Whether a subject is blocked (detection, `alerts block`): it then gets no tokens. */
  blockGuard: SubjectBlockGuard;
  /** Records each JWT access token under its grant, so that revoking the grant revokes it. */
  grantJwts: GrantJwts;
}

/** The client certificate of the TLS connection the request came in on, if verified or not. */
function peerCertificate(ctx: any): X509Certificate | undefined {
  const socket = ctx.req.socket as Partial<TLSSocket>;
  const cert = typeof socket.getPeerX509Certificate === 'function' ? socket.getPeerX509Certificate() : undefined;
  return cert ?? undefined;
}

export function buildProviderConfig(input: ProviderConfigInput): Record<string, unknown> {
  const { identity, users, clients, cutoffs, binding, blockGuard, grantJwts } = input;
  // A blocked subject gets no tokens (subject-block-guard.ts).
  const refusedAsBlocked = providerBlockCheck(blockGuard);
  /** When a code, token or session was signed in: refresh tokens and codes carry it, access tokens were issued after it. */
  const signedInAt = (source: any): number | undefined => (typeof source?.authTime === 'number' ? source.authTime : source?.iat);
  /** Gatehouse fields of a client: from the client object the provider loaded, else from the store. */
  const fieldsOf = async (client: any): Promise<GatehouseClientFields | undefined> => {
    const fields = clientFields(client);
    if (fields) return fields;
    const record = client?.clientId ? await clients.find(client.clientId) : undefined;
    return record && !record.disabled ? { kind: record.kind, roles: record.roles, allowedScopes: record.allowedScopes, allowedAudiences: record.allowedAudiences } : undefined;
  };
  /**
   * The sign-in behind a user's access token being issued: the code, refresh token, device code
   * or CIBA request of the grant in progress carries the session's `acr`, `amr` and `authTime`
   * (the access token itself does not). A refreshed token keeps the original sign-in's time.
   */
  const signInOf = (ctx: any, accountId: string): { auth_time?: number; amr?: string[]; acr?: string } => {
    const entities = ctx?.oidc?.entities ?? {};
    const source = entities.AuthorizationCode ?? entities.RefreshToken ?? entities.DeviceCode ?? entities.BackchannelAuthenticationRequest;
    if (!source || source.accountId !== accountId) return {};
    return {
      ...(typeof source.authTime === 'number' ? { auth_time: source.authTime } : {}),
      ...(Array.isArray(source.amr) && source.amr.every((m: unknown) => typeof m === 'string') ? { amr: [...source.amr] } : {}),
      ...(typeof source.acr === 'string' ? { acr: source.acr } : {}),
    };
  };
  const alg = identity.signing.algorithm;
  const publicResource = new URL(input.publicUrl).href.replace(/\/$/, '');
  const resources = new Set([publicResource, ...identity.resources.map((r) => new URL(r).href.replace(/\/$/, ''))]);
  const signingAlgs = ['ES256', 'EdDSA', 'RS256'];

  return {
    adapter: input.adapter,
    clients: [],
    // Signatures through node:crypto (see signing-key.ts); the JWS itself is oidc-provider's.
    jwks: { keys: input.jwks.map((jwk) => new NodeSigningKey(jwk)) },
    cookies: {
      names: { ...IDP_COOKIE_NAMES },
      long: { httpOnly: true, sameSite: 'lax', secure: true },
      short: { httpOnly: true, sameSite: 'lax', secure: true },
      keys: input.cookieKeys,
    },
    routes: OIDC_ROUTES,
    // Runs before a JWT access token is signed; a grant's token that could not be recorded is not issued.
    formats: {
      customizers: {
        async jwt(_ctx: any, token: any, jwt: { payload: Record<string, unknown> }) { await grantJwts.record(token, jwt.payload); },
      },
    },
    scopes: [...OIDC_SCOPES],
    // How and when the user signed in travel in every ID token (with the openid scope): the
    // gateway's sessions take their MFA time from `amr` and `auth_time` (step-up), other
    // clients may check `acr`. oidc-provider otherwise adds them only when a client asks.
    acrValues: ['urn:gatehouse:mfa'],
    claims: {
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      profile: ['preferred_username', 'name'],
      email: ['email', 'email_verified'],
      roles: ['roles'],
    },
    responseTypes: ['code'],
    allowOmittingSingleRegisteredRedirectUri: false,
    acceptQueryParamAccessTokens: false,
    clockTolerance: 5,
    pkce: { required: () => true },
    rotateRefreshToken: true,
    async issueRefreshToken(_ctx: any, client: any, code: any) {
      return client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access');
    },
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: alg,
      token_endpoint_auth_method: 'client_secret_basic',
    },
    // client_secret_jwt needs the plaintext secret as an HMAC key; Gatehouse keeps only its hash.
    extraClientMetadata: {
      properties: [...GATEHOUSE_CLIENT_PROPERTIES],
      validator(ctx: any, key: string, value: unknown) {
        try { validateClientField(ctx, key, value); } catch { throw new errors.InvalidClientMetadata!(`${key} is malformed`); }
      },
    },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth', 'none'],
    enabledJWA: {
      clientAuthSigningAlgValues: ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'RS256', 'PS256'],
      idTokenSigningAlgValues: signingAlgs,
      userinfoSigningAlgValues: signingAlgs,
      introspectionSigningAlgValues: signingAlgs,
      authorizationSigningAlgValues: signingAlgs,
      requestObjectSigningAlgValues: ['ES256', 'EdDSA', 'RS256', 'PS256'],
      dPoPSigningAlgValues: ['ES256', 'EdDSA', 'Ed25519', 'PS256', 'RS256'],
    },
    ttl: {
      AccessToken: identity.ttl.accessToken,
      ClientCredentials: identity.ttl.clientCredentials,
      IdToken: identity.ttl.idToken,
      AuthorizationCode: identity.ttl.authorizationCode,
      RefreshToken: identity.ttl.refreshToken,
      Session: identity.ttl.session,
      Interaction: identity.ttl.interaction,
      Grant: identity.ttl.refreshToken,
    },
    interactions: {
      policy: createInteractionPolicy(),
      // Called once as each interaction starts, in the browser that starts it.
      url: async (ctx: any, interaction: any) => {
        ctx.append('Set-Cookie', await binding.bind(interaction.uid, ctx.get('cookie') || undefined));
        return `/oidc/interaction/${interaction.uid}`;
      },
    },
    features: {
      devInteractions: { enabled: false },
      externalSigningSupport: { enabled: true, ack: 'experimental-01' },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // Only the client a token was issued to learns anything about it (RFC 7662 §4): the
        // provider's opaque tokens are good here only (userinfo, refresh), so no resource server
        // needs another client's token, and its subject, roles and scope are personal.
        async allowedPolicy(ctx: any, client: any, token: any) {
          if (token.clientId !== client.clientId) return false;
          // A blocked subject's tokens are refused by the gateway, userinfo and refresh; a resource
          // server asking here must not be told they are active either (nor when blocks cannot be read).
          if (await refusedAsBlocked(ctx, token.accountId ?? token.clientId)) return false;
          if (token.accountId === undefined) return true;
          // Userinfo and refresh refuse a disabled user's tokens; introspection must not call them active.
          const user = await users.findById(token.accountId);
          return user !== undefined && !user.disabled && !(await cutoffs.ended(user.id, signedInAt(token)));
        },
      },
      revocation: {
        enabled: true,
        // Only the client a token was issued to may revoke it (RFC 7009 §2.1).
        async allowedPolicy(_ctx: any, client: any, token: any) {
          if (token.clientId !== client.clientId) throw new errors.InvalidRequest!('client is not authorized to revoke the presented token');
          return true;
        },
      },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx: any, form: string) { ctx.type = 'html'; ctx.body = logoutPage(form); },
        async postLogoutSuccessSource(ctx: any) { ctx.type = 'html'; ctx.body = postLogoutPage(); },
      },
      dPoP: { enabled: true },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        selfSignedTlsClientAuth: true,
        getCertificate: (ctx: any) => peerCertificate(ctx),
        certificateAuthorized: (ctx: any) => (ctx.req.socket as Partial<TLSSocket>).authorized === true,
        certificateSubjectMatches(ctx: any, property: string, expected: string) {
          const cert = peerCertificate(ctx);
          if (!cert) return false;
          switch (property) {
            case 'tls_client_auth_subject_dn': return cert.subject.replace(/\n/g, ',') === expected || cert.subject === expected;
            case 'tls_client_auth_san_uri': return (cert.subjectAltName ?? '').split(', ').includes(`URI:${expected}`);
            case 'tls_client_auth_san_dns': return (cert.subjectAltName ?? '').split(', ').includes(`DNS:${expected}`);
            default: return false;
          }
        },
      },
      resourceIndicators: {
        enabled: true,
        // Client credentials without `resource` get a JWT for the gateway itself.
        async defaultResource(ctx: any, _client: any, oneOf?: string[]) {
          if (oneOf) return oneOf;
          if (ctx.oidc.params?.grant_type === 'client_credentials') {
            return (await fieldsOf(ctx.oidc.client))?.allowedAudiences[0] ?? publicResource;
          }
          return undefined;
        },
        async useGrantedResource() { return true; },
        async getResourceServerInfo(ctx: any, resource: string, client: any) {
          const normalized = resource.replace(/\/$/, '');
          if (!resources.has(normalized)) throw new errors.InvalidTarget!('resource indicator is not served by this provider');
          const record = await fieldsOf(client);
          if (!record || (record.allowedAudiences.length && !record.allowedAudiences.map((a) => a.replace(/\/$/, '')).includes(normalized))) {
            throw new errors.InvalidTarget!('resource indicator is not allowed for this client');
          }
          const isClientCredentials = ctx.oidc.params?.grant_type === 'client_credentials';
          const scopes = record.allowedScopes.filter((s) => !OIDC_SCOPE_SET.has(s));
          if (isClientCredentials) assertClientCredentialsScope(ctx.oidc.params?.scope, scopes);
          return {
            scope: scopes.join(' '),
            audience: resource,
            accessTokenTTL: isClientCredentials ? identity.ttl.clientCredentials : identity.ttl.accessToken,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg } },
          };
        },
      },
    },
    async findAccount(ctx: any, sub: string, token?: any) {
      const user = await users.findById(sub);
      // A disabled user gets no new tokens: refresh and userinfo fail with invalid_grant/invalid_token.
      if (!user || user.disabled) return undefined;
      // Neither does a sign-in made before the password or MFA was reset (the code, token, or
      // else the browser's session, says when); the session is then asked to sign in again.
      if (await cutoffs.ended(user.id, token ? signedInAt(token) : ctx?.oidc?.session?.authTime?.())) return undefined;
      if (await refusedAsBlocked(ctx, user.id)) return undefined;
      return {
        accountId: user.id,
        // Read by extraTokenClaims in the same request (no second lookup of the user).
        gatehouseRoles: user.roles,
        async claims() {
          return {
            sub: user.id, preferred_username: user.username, name: user.displayName ?? user.username,
            ...(user.email ? { email: user.email, email_verified: user.emailVerified } : {}), roles: user.roles,
          };
        },
      };
    },
    // Roles and principal kind in JWT access tokens (RFC 9068 §2.2.3.1) and introspection; for
    // a user's token also how and when the user signed in (RFC 9068 §2.2.1: `auth_time`, `acr`,
    // `amr`), which the gateway's step-up reads from bearer tokens.
    async extraTokenClaims(ctx: any, token: any) {
      if (token.accountId) {
        const login = signInOf(ctx, token.accountId);
        const account = ctx.oidc?.account;
        if (account?.accountId === token.accountId && Array.isArray(account.gatehouseRoles)) return { roles: account.gatehouseRoles, gh_kind: 'user', ...login };
        const user = await users.findById(token.accountId);
        return user ? { roles: user.roles, gh_kind: 'user', ...login } : undefined;
      }
      if (token.kind === 'ClientCredentials') {
        // The one hook oidc-provider calls for every client-credentials token, before it is signed
        // or stored: a blocked service gets none (its principal id is its client id).
        await refusedAsBlocked(ctx, token.clientId);
        const client = ctx.oidc?.client?.clientId === token.clientId ? ctx.oidc.client : { clientId: token.clientId };
        const record = await fieldsOf(client);
        return record ? { roles: record.roles, gh_kind: 'service' } : undefined;
      }
      return undefined;
    },
    // Every client is registered by an administrator, so consent is implied (first-party):
    // the grant covers what the client may ask for (its registered `scope`), nothing more.
    async loadExistingGrant(ctx: any) {
      const { provider, client, session } = ctx.oidc;
      const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      const grant = (grantId && (await provider.Grant.find(grantId))) || new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      const requested = [...(ctx.oidc.requestParamOIDCScopes ?? [])] as string[];
      if (requested.length) grant.addOIDCScope(requested.join(' '));
      for (const [indicator, server] of Object.entries<any>(ctx.oidc.resourceServers ?? {})) {
        const scopes = [...(ctx.oidc.requestParamScopes ?? [])].filter((s: string) => server.scopes.has(s));
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      await grant.save();
      return grant;
    },
    async renderError(ctx: any, out: { error: string; error_description?: string }) {
      ctx.type = 'html';
      ctx.body = errorPage(out.error, out.error_description);
    },
  };
}
