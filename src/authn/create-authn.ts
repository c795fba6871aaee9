/**
 * Builds the authentication stage and its parts from configuration and the components it
 * depends on. This is the one call the gateway wiring makes:
 *
 * @example
 *   const authn = createAuthn({ publicOrigin, config: config.authn, principals, apiTokens, ownJwks, … });
 *   await authn.start();
 *   // stage for the 'authenticate' slot, handler for /_gatehouse/auth/*
 *   extension.stages = () => ({ authenticate: authn.stage });
 *   extension.internalHandlers = () => authn.loginFlow ? [authn.internalHandler] : [];
 */
import type { JSONWebKeySet } from 'jose';
import type { Configuration } from 'openid-client';
import type { Logger } from 'pino';
import type { AuthnConfig } from '../core/config/authn-schema.ts';
import { GatehouseError } from '../core/errors.ts';
import type { Stage } from '../gateway/context.ts';
import type { InternalHandler } from '../gateway/internal-handler.ts';
import { createAuthenticateStage } from '../gateway/pipeline/authenticate.ts';
import { ApiTokenAuthenticator } from './api-token-authenticator.ts';
import { compileIssuer, rolesAsNamed, type CompiledIssuer } from './jwt/issuer.ts';
import { createLocalJwksKeys } from './jwt/jwks-keys.ts';
import { JwtVerifier } from './jwt/jwt-verifier.ts';
import { JwtAuthenticator } from './jwt-authenticator.ts';
import { MtlsAuthenticator, type ClientCertificateVerifier } from './mtls-authenticator.ts';
import { RevocationList } from './revocation-list.ts';
import { DpopVerifier } from './dpop/dpop-verifier.ts';
import { MemoryReplayCache, type ReplayCache } from './dpop/replay-cache.ts';
import { AUTH_PREFIX, LoginFlow, type LoginFlowOptions } from './session/login-flow.ts';
import { SessionManager } from './session/session-manager.ts';
import type { LoginStateStore, SessionStore } from './session/session-store.ts';
import type { ApiTokenVerifier, OnInvalidate, PrincipalLookup, PublishInvalidation, RevokedTokenStore } from './types.ts';

export interface AuthnDeps {
  config: AuthnConfig;
  /** Public origin of the gateway = issuer of Gatehouse's own tokens. */
  publicOrigin: string;
  principals: PrincipalLookup;
  /** Absent: API tokens are refused. */
  apiTokens?: ApiTokenVerifier | undefined;
  /** Public signing keys of Gatehouse's own IdP (read on every key miss, so rotation is seen). */
  ownJwks?: (() => JSONWebKeySet) | undefined;
  /** Asked on a kid `ownJwks` lacks: true when the IdP's keys changed since (rotated on another instance). */
  ownKeysChanged?: (() => Promise<boolean>) | undefined;
  /** Issuer of Gatehouse's own tokens when it differs from `publicOrigin` (e.g. `${origin}/oidc`). */
  ownIssuer?: string | undefined;
  /** Whether a bearer value is an opaque token Gatehouse's own IdP issued (removed before public upstreams). */
  ownOpaqueToken?: ((token: string) => false | Promise<boolean>) | undefined;
  revokedTokens: RevokedTokenStore;
  sessionStore: SessionStore;
  loginStore: LoginStateStore;
  onInvalidate: OnInvalidate;
  publish: PublishInvalidation;
  /** openid-client configuration of the gateway at its own IdP; absent: no browser login. */
  loginClient?: Configuration | undefined;
  /** Ends the in-process IdP's sign-in session of the browser at logout (see LoginFlowOptions.endIdpSession). */
  endIdpSession?: LoginFlowOptions['endIdpSession'];
  /** Where seen DPoP proofs are remembered; default: in memory (one instance). */
  dpopReplay?: ReplayCache | undefined;
  /** Wired to src/pki verifyPeer; absent: client certificates are refused. */
  verifyClientCertificate?: ClientCertificateVerifier | undefined;
  /** The trust `verifyClientCertificate` uses (see MtlsAuthenticatorOptions.trust). */
  clientCertificateTrust?: (() => unknown) | undefined;
  logger?: Logger | undefined;
  /** Replaces reading PEM files named in issuer configs (tests). */
  readText?: (path: string) => string;
}

export interface Authn {
  readonly stage: Stage;
  readonly jwt: JwtAuthenticator;
  readonly revocations: RevocationList;
  readonly sessions: SessionManager;
  readonly apiTokens: ApiTokenAuthenticator | undefined;
  readonly mtls: MtlsAuthenticator | undefined;
  readonly loginFlow: LoginFlow | undefined;
  readonly dpop: DpopVerifier;
  readonly internalHandler: InternalHandler;
  /** Loads revocations; call before serving. */
  start(): Promise<void>;
  close(): void;
}

export function createAuthn(deps: AuthnDeps): Authn {
  const { config } = deps;
  const issuers: CompiledIssuer[] = config.issuers.map((i) => compileIssuer(i, deps.readText));
  // Gatehouse's own tokens, when accepted: verified here, and removed before public upstreams (authenticate.ts).
  const ownJwks = config.gatehouseIssuer.enabled ? deps.ownJwks : undefined;
  const ownIssuer = ownJwks !== undefined ? deps.ownIssuer ?? deps.publicOrigin : undefined;
  if (ownIssuer !== undefined && ownJwks !== undefined) {
    issuers.push({
      issuer: ownIssuer,
      algorithms: config.gatehouseIssuer.algorithms,
      audiences: undefined,
      clockSkewSec: config.gatehouseIssuer.clockSkewSec,
      typ: config.gatehouseIssuer.typ,
      keys: createLocalJwksKeys(ownJwks, 'Gatehouse IdP keys', deps.ownKeysChanged),
      principals: 'directory',
      rolesClaim: 'roles',
      // Directory principals: the roles are the directory's, never the token's.
      mapRoles: rolesAsNamed,
      kind: 'user',
    });
  }
  const common = { onInvalidate: deps.onInvalidate, principals: deps.principals };
  const revocations = new RevocationList({
    store: deps.revokedTokens, onInvalidate: deps.onInvalidate, publish: deps.publish, logger: deps.logger,
    retainSec: Math.max(0, ...issuers.map((i) => i.clockSkewSec)),
  });
  const jwt = new JwtAuthenticator({
    ...common,
    verifier: new JwtVerifier({ issuers, maxTokenBytes: config.maxTokenBytes }),
    revocations,
    maxCacheEntries: config.tokenCache.maxEntries,
    principalTtlMs: config.tokenCache.principalTtlMs,
  });
  const apiTokens = deps.apiTokens === undefined ? undefined : new ApiTokenAuthenticator({
    ...common, verifier: deps.apiTokens, ttlMs: config.tokenCache.apiTokenTtlMs, maxCacheEntries: config.tokenCache.maxEntries,
  });
  const sessions = new SessionManager({
    ...common, store: deps.sessionStore, publish: deps.publish, logger: deps.logger, ...config.session,
  });
  const mtls = deps.verifyClientCertificate === undefined ? undefined : new MtlsAuthenticator({ ...common, verify: deps.verifyClientCertificate, trust: deps.clientCertificateTrust });
  const loginFlow = deps.loginClient === undefined ? undefined : new LoginFlow({
    client: deps.loginClient,
    publicOrigin: deps.publicOrigin,
    sessions,
    logins: deps.loginStore,
    principals: deps.principals,
    scopes: config.login.scopes,
    loginTimeoutMs: config.login.loginTimeoutMs,
    endIdpSession: deps.endIdpSession,
    logger: deps.logger,
  });
  const dpop = new DpopVerifier({
    algorithms: config.dpop.algorithms,
    maxAgeSec: config.dpop.maxAgeSec,
    clockSkewSec: config.dpop.clockSkewSec,
    replay: deps.dpopReplay ?? new MemoryReplayCache(config.dpop.maxReplayEntries),
    origins: [deps.publicOrigin, ...config.dpop.allowedOrigins],
  });
  const stage = createAuthenticateStage({ jwt, apiTokens, sessions, mtls, dpop, publicOrigin: deps.publicOrigin, ownIssuer, ownOpaqueToken: deps.ownOpaqueToken, maxTokenBytes: config.maxTokenBytes, loginEnabled: loginFlow !== undefined, crossSiteCheck: config.session.crossSiteCheck });

  const internalHandler: InternalHandler = {
    name: 'authn',
    prefixes: [AUTH_PREFIX],
    handle(req, res) {
      const pending = loginFlow?.handle(req, res);
      if (pending === undefined || pending === false) throw new GatehouseError('ERR_GATEWAY_ROUTE_NOT_FOUND', { detail: `${req.url ?? ''} is not an auth route or browser login is not configured` });
      return pending;
    },
  };

  return {
    stage, jwt, revocations, sessions, apiTokens, mtls, loginFlow, dpop, internalHandler,
    async start() { await revocations.load(); },
    close() { jwt.close(); apiTokens?.close(); sessions.close(); mtls?.close(); revocations.close(); },
  };
}
