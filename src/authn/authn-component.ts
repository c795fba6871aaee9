/**
 * The gateway's authentication as one component, built on the shared platform (store, bus,
 * logger, config): SQL-backed sessions, pending logins and revocations shared by every
 * instance, invalidations over the bus, DPoP replay memory (in process or in the store),
 * the browser login against Gatehouse's own identity provider, and background pruning.
 * This is what the composition root calls; it fills the `authenticate` slot and serves
 * `/_gatehouse/auth/…`.
 *
 * @example
 *   // src/gateway/compose.ts, after the identity (and PKI) components:
 *   const authn = await createAuthnComponent(platform, {
 *     identity: identity.idp,
 *     verifyClientCertificate: pki ? (cert) => verifyPeer(cert, pki.workload.trust()) : undefined,
 *     clientCertificateTrust: pki ? () => pki.workload.trust() : undefined,
 *   });
 *   extensions.push(authn.extension);
 */
import type { TLSSocket } from 'node:tls';
import * as oidc from 'openid-client';
import type { Logger } from 'pino';
import type { Config } from '../core/config/schema.ts';
import { GatehouseError, isGatehouseError } from '../core/errors.ts';
import type { EventBus } from '../bus/types.ts';
import type { Gateway, GatewayExtension } from '../gateway/gateway.ts';
import type { IdentityProvider } from '../identity/identity-provider.ts';
import { OIDC_ROUTES } from '../identity/oidc/provider-config.ts';
import type { Store } from '../store/types.ts';
import { createAuthnSessionRepo } from '../store/repos/authn-sessions-repo.ts';
import { createAuthnLoginStateRepo } from '../store/repos/authn-login-states-repo.ts';
import { createAuthnRevokedTokenRepo } from '../store/repos/authn-revoked-tokens-repo.ts';
import { createAuthnDpopProofRepo } from '../store/repos/authn-dpop-proofs-repo.ts';
import { createBusInvalidationChannel } from './bus-invalidation.ts';
import { createAuthn, type Authn } from './create-authn.ts';
import { startAuthnMaintenance, type AuthnMaintenance } from './maintenance.ts';
import type { ClientCertificateVerifier } from './mtls-authenticator.ts';
import { CALLBACK_PATH } from './session/login-flow.ts';
import { createStepUpStage } from './step-up-stage.ts';
import { tunnelsEndedBy } from './tunnel-invalidation.ts';
import type { PrincipalLookup } from './types.ts';

/** What the component needs from the platform (`Platform` of src/gateway/extensions/platform.ts satisfies it). */
export interface AuthnPlatform {
  readonly config: Config;
  readonly store: Store;
  readonly bus: EventBus;
  readonly logger: Logger;
}

export interface AuthnComponentOptions {
  /** Gatehouse's identity provider in this process: directory, API tokens, own keys, browser login. */
  identity?: IdentityProvider | undefined;
  /** Client certificates as credentials (wire to src/pki verifyPeer); absent: refused. */
  verifyClientCertificate?: ClientCertificateVerifier | undefined;
  /** The trust it verifies against, so a CRL refresh re-checks open connections (see MtlsAuthenticatorOptions.trust). */
  clientCertificateTrust?: (() => unknown) | undefined;
  /** Calls the listener when that trust changed (a new CRL); returns the function that stops it. Open WebSocket tunnels are checked again then. */
  onClientCertificateTrustChange?: ((listener: () => void) => () => void) | undefined;
  /** fetch the login relying party uses to reach the IdP's token endpoint (default: global fetch). */
  loginFetch?: typeof fetch | undefined;
}

export interface AuthnComponent {
  readonly authn: Authn;
  readonly extension: GatewayExtension;
}

const NOBODY: PrincipalLookup = { getPrincipal: async () => undefined };

/**
 * The gateway's client at its own IdP, registered on first start as a public client (PKCE;
 * the gateway keeps no client secret) unless `authn.login.clientSecret` says an administrator
 * registered a confidential one.
 */
async function loginClient(config: Config, idp: IdentityProvider, origin: string, logger: Logger, fetchImpl: typeof fetch | undefined): Promise<oidc.Configuration> {
  const { clientId, clientSecret } = config.authn.login;
  if (clientSecret === undefined) {
    try {
      await idp.accounts.addClient({ clientId, kind: 'app', name: 'Gatehouse gateway', authMethod: 'none', redirectUris: [origin + CALLBACK_PATH] });
      logger.info({ clientId }, 'authn: registered the gateway as a client of its identity provider');
    } catch (err) {
      if (!(isGatehouseError(err) && err.code === 'ERR_IDENTITY_CLIENT_EXISTS')) throw err;
    }
  }
  const issuer = idp.issuer;
  // Static metadata: at start the gateway cannot yet fetch its own discovery document.
  const configuration = new oidc.Configuration(
    {
      issuer,
      authorization_endpoint: issuer + OIDC_ROUTES.authorization,
      token_endpoint: issuer + OIDC_ROUTES.token,
      jwks_uri: issuer + OIDC_ROUTES.jwks,
      id_token_signing_alg_values_supported: [config.identity.signing.algorithm],
      code_challenge_methods_supported: ['S256'],
    },
    clientId,
    { id_token_signed_response_alg: config.identity.signing.algorithm, ...(clientSecret === undefined ? {} : { client_secret: clientSecret }) },
    clientSecret === undefined ? oidc.None() : oidc.ClientSecretBasic(clientSecret),
  );
  if (fetchImpl !== undefined) configuration[oidc.customFetch] = fetchImpl as oidc.CustomFetch;
  return configuration;
}

/** Builds authn over the platform; nothing runs until the extension's `start`. */
export async function createAuthnComponent(platform: AuthnPlatform, options: AuthnComponentOptions = {}): Promise<AuthnComponent> {
  const { config, store, bus } = platform;
  const logger = platform.logger.child({ component: 'authn' });
  const publicUrl = config.publicUrl;
  if (publicUrl === undefined) throw new GatehouseError('ERR_CONFIG_INVALID', { detail: 'authn: publicUrl is required' });
  const origin = new URL(publicUrl).origin;
  const idp = options.identity;
  const channel = createBusInvalidationChannel(bus, logger);
  const sessionStore = createAuthnSessionRepo(store.db);
  const loginStore = createAuthnLoginStateRepo(store.db);
  const dpopProofs = config.authn.dpop.replayCache === 'store' ? createAuthnDpopProofRepo(store.db) : undefined;
  const authn = createAuthn({
    config: config.authn,
    publicOrigin: origin,
    principals: idp?.directory ?? NOBODY,
    apiTokens: idp === undefined ? undefined : { verifyApiToken: (token) => idp.verifyApiToken(token) },
    ownJwks: idp === undefined ? undefined : () => idp.publicJwks(),
    ownKeysChanged: idp === undefined ? undefined : () => idp.reloadKeysForUnknownKid(),
    ownIssuer: idp?.issuer,
    ownOpaqueToken: idp === undefined ? undefined : (token) => idp.issuedOpaqueToken(token),
    revokedTokens: createAuthnRevokedTokenRepo(store.db),
    sessionStore,
    loginStore,
    dpopReplay: dpopProofs,
    onInvalidate: channel.onInvalidate,
    publish: channel.publish,
    loginClient: idp !== undefined && config.identity.enabled ? await loginClient(config, idp, origin, logger, options.loginFetch) : undefined,
    // The IdP's sign-in session ends with the gateway's: a logout that left it would let the
    // next visitor of the browser through the login without a password.
    endIdpSession: idp === undefined ? undefined : (req, res) => idp.endBrowserSession(req, res),
    verifyClientCertificate: options.verifyClientCertificate,
    clientCertificateTrust: options.clientCertificateTrust,
    logger,
  });

  // Gatehouse's own tokens are verified again after its keys change (a rotation, a key withdrawn
  // at once by `keys rotate --retire-previous`, a retirement), not trusted from the cache.
  // A tunnel opened with a Gatehouse token makes no more requests to be refused: when a key is
  // withdrawn, every tunnel of a Gatehouse JWT is closed (a tunnel does not record which key signed
  // its token), and its client opens a new one with a fresh token.
  const ownIssuer = idp?.issuer;
  let running: Gateway | undefined;
  const stopForgettingOwnTokens = idp !== undefined && ownIssuer !== undefined ? idp.onKeysLoaded(({ withdrawnKids }) => {
    authn.jwt.forgetIssuer(ownIssuer);
    if (withdrawnKids.length === 0 || running === undefined) return;
    const closed = running.tunnels.closeWhere(({ identity: i }) => i !== undefined && i.issuer === ownIssuer && (i.method === 'jwt' || i.method === 'dpop'), 'signing key withdrawn');
    if (closed > 0) logger.info({ closed, withdrawnKids }, 'authn: WebSocket tunnels of Gatehouse tokens closed: a signing key was withdrawn');
  }) : undefined;

  const stepUp = createStepUpStage({
    publicOrigin: origin,
    loginEnabled: authn.loginFlow !== undefined,
    publish: (event) => bus.publish('authn.step_up.required', event),
  });

  let upkeep: AuthnMaintenance | undefined;
  let stopClosingTunnels: (() => void) | undefined;
  let stopRecheckingTunnels: (() => void) | undefined;
  const extension: GatewayExtension = {
    name: 'authn',
    async start(gateway) {
      await authn.start();
      running = gateway;
      // A tunnel whose credential is revoked, ended or whose principal changed is closed on
      // every instance, as the credential stops working for requests.
      stopClosingTunnels = channel.onInvalidate((event) => {
        const { match, reason } = tunnelsEndedBy(event);
        const closed = gateway.tunnels.closeWhere(match, reason);
        if (closed > 0) logger.info({ type: event.type, closed }, 'authn: WebSocket tunnels of an invalidated credential closed');
      });
      // Requests on a kept-alive connection verify its certificate again under new trust; a
      // tunnel makes no more requests, so it is verified here (revoked → closed).
      const verify = options.verifyClientCertificate;
      if (verify !== undefined) {
        stopRecheckingTunnels = options.onClientCertificateTrustChange?.(() => {
          const closed = gateway.tunnels.closeWhere((t) => t.identity?.method === 'mtls' && !clientCertificateStillValid(verify, t.clientSocket), 'client certificate no longer trusted');
          if (closed > 0) logger.info({ closed }, 'authn: WebSocket tunnels of a client certificate no longer trusted closed');
        });
      }
      upkeep = startAuthnMaintenance({
        revocations: authn.revocations, sessions: sessionStore, logins: loginStore, dpopProofs,
        idleTimeoutMs: config.authn.session.idleTimeoutMs, ...config.authn.maintenance, logger,
      });
    },
    stages: () => ({ authenticate: authn.stage, stepUp }),
    internalHandlers: () => (authn.loginFlow === undefined ? [] : [authn.internalHandler]),
    async stop() {
      stopForgettingOwnTokens?.();
      stopClosingTunnels?.();
      stopRecheckingTunnels?.();
      await upkeep?.stop();
      authn.close();
      channel.close();
    },
  };
  return { authn, extension };
}

/** Whether the tunnel's client certificate still verifies (false when it has none to show). */
function clientCertificateStillValid(verify: ClientCertificateVerifier, socket: unknown): boolean {
  const certificate = (socket as Partial<TLSSocket> | undefined)?.getPeerX509Certificate?.();
  if (certificate === undefined) return false;
  try {
    verify(certificate);
    return true;
  } catch {
    return false;
  }
}
