/**
 * `createIdentityProvider`: Gatehouse's OpenID provider as one request handler the gateway
 * mounts in front of its routes. It claims `/.well-known/openid-configuration` and
 * everything under `/oidc/`; every other request is left to the gateway (`handle` → false).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import Provider from 'oidc-provider';
import type { JWK } from 'jose';
import type { Logger } from 'pino';
import type { Config } from '../core/config/schema.ts';
import { GatehouseError, type ErrorCode } from '../core/errors.ts';
import type { Store } from '../store/types.ts';
import { createKvRepo } from '../store/repos/kv-repo.ts';
import { IdentityApiTokensRepo } from '../store/repos/identity-api-tokens-repo.ts';
import { IdentityClientsRepo } from '../store/repos/identity-clients-repo.ts';
import { IdentityKeysRepo } from '../store/repos/identity-keys-repo.ts';
import { IdentityThrottleRepo } from '../store/repos/identity-throttle-repo.ts';
import { IdentityUsersRepo } from '../store/repos/identity-users-repo.ts';
import { AccountService } from './accounts/account-service.ts';
import { createPrincipalDirectory, type PrincipalDirectory } from './accounts/principal-directory.ts';
import { secretMatches } from './accounts/secrets.ts';
import { SignOutCutoffs } from './accounts/sign-out-cutoff.ts';
import { ApiTokenService, type VerifiedApiToken } from './api-tokens.ts';
import { OpaqueTokenRecognizer } from './oidc/opaque-tokens.ts';
import type { IdentityEmit, IdentityEventName, IdentityEventPayloads } from './events.ts';
import { CALLBACK_PREFIX, FederationService } from './federation/federation-service.ts';
import { createInteractionRouter } from './interaction/interaction-router.ts';
import { sendHtml } from './interaction/http.ts';
import { providerPageHeaders } from './oidc/page-headers.ts';
import { resumeBrowserBinding } from './oidc/resume-binding.ts';
import { BrowserBinding } from './interaction/browser-binding.ts';
import { messagePage } from './interaction/pages.ts';
import { createKeySealer } from './keys/key-sealer.ts';
import { KeyManager, type SigningAlgorithm } from './keys/key-manager.ts';
import { LoginService } from './login/login-service.ts';
import { endBrowserSession, type EndedBrowserSession } from './oidc/end-browser-session.ts';
import { buildProviderConfig } from './oidc/provider-config.ts';
import { forwardProviderEvents } from './oidc/provider-events.ts';
import { createAdapterFactory } from './oidc/store-adapter.ts';
import { GrantJwts } from './oidc/grant-jwts.ts';
import { ClientGrants } from './oidc/client-grants.ts';
import { createAuthnRevokedTokenRepo } from '../store/repos/authn-revoked-tokens-repo.ts';
import { createSubjectBlockGuard } from './oidc/subject-block-guard.ts';
import { createStoreSubjectBlocks, type SubjectBlocks } from '../detect/subject-blocks.ts';

/** Where events go: the gateway's EventBus satisfies this. */
export interface IdentityEventSink {
  publish(name: string, payload: unknown): void;
  subscribe?(names: string[] | '*', handler: (event: { name: string; payload: unknown; instance: string }) => void | Promise<void>): () => void;
}

export interface IdentityProviderOptions {
  config: Pick<Config, 'mode' | 'dataDir' | 'identity'> & Partial<Pick<Config, 'authn'>>;
  store: Store;
  logger: Logger;
  bus?: IdentityEventSink;
  /** External origin, e.g. `https://gatehouse.example.com`; becomes the issuer. */
  publicUrl: string;
  /**
   * Temporary blocks of subjects (detection, `gatehouse alerts block`): a blocked subject gets no
   * tokens and is not signed in. Default: read from `store` (`detect_blocks`) at each issuance.
   */
  subjectBlocks?: SubjectBlocks;
}

export interface RequestInfo {
  /** Client address as established by the gateway's trusted-proxy logic. Default: the socket peer. */
  clientAddress?: string;
}

export interface IdentityProvider {
  /** The issuer (`iss`) of every token: the public URL without trailing slash. */
  readonly issuer: string;
  /** JWKS URI (for authn's JWT verification). */
  readonly jwksUri: string;
  /**
   * Serves the request when its path belongs to the provider and returns true; returns
   * false (without touching the request) otherwise.
   */
  handle(req: IncomingMessage, res: ServerResponse, info?: RequestInfo): boolean;
  readonly directory: PrincipalDirectory;
  readonly accounts: AccountService;
  readonly apiTokens: ApiTokenService;
  /** The verified API token (authn's `ApiTokenVerifier`), or undefined. */
  verifyApiToken(token: string): Promise<VerifiedApiToken | undefined>;
  /** Like verifyApiToken, with the error code that says why a token is refused. */
  inspectApiToken(token: string): Promise<VerifiedApiToken | { code: ErrorCode }>;
  /**
   * Whether `token` is an opaque access or refresh token this provider issued (false at once
   * when it cannot be one); rejects when the store cannot be read. See opaque-tokens.ts.
   */
  issuedOpaqueToken(token: string): false | Promise<boolean>;
  /** Public signing keys currently published (active first). */
  publicJwks(): { keys: JWK[] };
  /**
   * For a token whose kid is not in `publicJwks()`: asks the store whether another instance made a
   * new key active, and reloads the keys if so; true when it did. At most one store check a second.
   */
  reloadKeysForUnknownKid(): Promise<boolean>;
  /**
   * New signing key now; the old one keeps verifying until its tokens expired, or, with
   * `retirePrevious`, every earlier key is withdrawn at once (see KeyManager.rotate).
   */
  rotateKeys(algorithm?: SigningAlgorithm, options?: { retirePrevious?: boolean }): Promise<{ kid: string; previousKid: string | undefined; retireAt: number }>;
  /** Re-reads keys from the store (another instance rotated them). */
  reloadKeys(): Promise<void>;
  /**
   * Calls `listener` each time the keys are loaded again (a rotation here or elsewhere, a
   * retirement); returns the unsubscribe function. The gateway forgets the Gatehouse tokens it
   * has verified then, so that a withdrawn key's tokens are refused at once.
   */
  onKeysLoaded(listener: (change: KeysLoaded) => void): () => void;
  /**
   * Ends the sign-in session of the browser that sent `req` (its `gh_idp_session` cookie), as
   * the provider's own sign-out does, on every instance (the session lives in the store); the
   * gateway's logout calls it. Nothing to end is no error. Send the returned `clearCookies`
   * with the response. See `oidc/end-browser-session.ts`.
   */
  endBrowserSession(req: IncomingMessage, res: ServerResponse): Promise<EndedBrowserSession>;
  close(): Promise<void>;
}

/** What changed when the keys were loaded again. */
export interface KeysLoaded {
  /**
   * Signing keys gone before their planned retirement: withdrawn (`keys rotate --retire-previous`),
   * here or on another instance. Whatever they authenticated must not go on.
   */
  withdrawnKids: readonly string[];
}

/** oidc-provider's JWKS route (provider-config.ts). */
const JWKS_PATH = '/oidc/jwks';

function isProviderPath(path: string): boolean {
  return path === '/.well-known/openid-configuration' || path.startsWith('/oidc/');
}

/**
 * Builds the identity provider over the store (run `store.migrate()` first).
 *
 * @example
 *   const idp = await createIdentityProvider({ config, store, logger, bus, publicUrl });
 *   server.on('request', (req, res) => { if (!idp.handle(req, res)) gateway(req, res); });
 */
export async function createIdentityProvider(options: IdentityProviderOptions): Promise<IdentityProvider> {
  const { config, store, bus } = options;
  const logger = options.logger.child({ component: 'identity' });
  const identity = config.identity;
  const mode = config.mode ?? (process.env.NODE_ENV === 'production' ? 'production' : 'development');
  const publicUrl = new URL(options.publicUrl);
  if (publicUrl.protocol !== 'https:') throw new GatehouseError('ERR_CONFIG_INVALID', { detail: 'identity: publicUrl must be https' });
  const issuer = publicUrl.origin;

  const emit: IdentityEmit = <N extends IdentityEventName>(name: N, payload: IdentityEventPayloads[N]) => {
    try {
      bus?.publish(name, payload);
    } catch (err) {
      logger.warn({ err, event: name }, 'identity: event not published');
    }
  };

  const kv = createKvRepo(store.db);
  const users = new IdentityUsersRepo(store.db);
  const clients = new IdentityClientsRepo(store.db);
  const sealer = createKeySealer({ mode, dataDir: config.dataDir, identity }, logger);
  // An instance that missed the rotation event signs with the previous key until its next store
  // check (reloadCheckMs): the key stays published until the last token it may sign so has expired.
  const retireAfterMs = (Math.max(identity.ttl.accessToken, identity.ttl.clientCredentials, identity.ttl.idToken) + 60) * 1000 + identity.signing.reloadCheckMs;
  const keys = new KeyManager(new IdentityKeysRepo(store.db, store.dialect), sealer, identity.signing.algorithm, retireAfterMs);
  // Kept as long as anything signed in before it can live: the provider's sessions, grants and
  // tokens, and the gateway's own browser sessions.
  const gatewaySessionSec = Math.ceil((config.authn?.session.absoluteTimeoutMs ?? 0) / 1000);
  const cutoffs = new SignOutCutoffs(kv, Math.max(...Object.values(identity.ttl), gatewaySessionSec) + 60);
  const directory = createPrincipalDirectory(users, clients, cutoffs);
  const opaqueTokens = new OpaqueTokenRecognizer(kv);
  const apiTokens = new ApiTokenService({ repo: new IdentityApiTokensRepo(store.db), directory, emit, ...identity.apiTokens });
  // Revoking a grant revokes its JWT access tokens at every gateway instance too: in the store
  // every instance re-reads (authn.maintenance.revocationRefreshMs), and at once over the bus.
  const grantJwts = new GrantJwts({
    kv, clients, revoked: createAuthnRevokedTokenRepo(store.db), issuer,
    announce: (jwt) => {
      try {
        bus?.publish('authn.invalidated', { type: 'token.revoked', ...jwt });
      } catch (err) {
        logger.warn({ err, jti: jwt.jti }, 'identity: JWT revocation not announced; instances pick it up from the store');
      }
    },
  });
  const clientGrants = new ClientGrants(kv, grantJwts);
  const accounts = new AccountService(users, clients, emit, cutoffs, apiTokens, clientGrants);
  const login = new LoginService({ users, throttle: new IdentityThrottleRepo(store.db), kv, sealer, config: identity, emit });
  const federation = new FederationService({
    config: identity, mode, publicUrl: issuer, kv, users, accounts, logger,
  });
  const adapter = createAdapterFactory(kv, clients, grantJwts, clientGrants);
  const binding = new BrowserBinding(kv, identity.ttl.interaction);
  const blockGuard = createSubjectBlockGuard({ blocks: options.subjectBlocks ?? createStoreSubjectBlocks(store), emit, logger });

  let provider!: Provider;
  let callback!: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * One object per loaded key set, kept until the keys change: the gateway's verifier rebuilds
   * jose's key set (importing every key again) whenever it gets a different object, and a fresh
   * `{ keys }` per call made it do so for every Gatehouse token it had not cached.
   */
  let publicSet: { keys: JWK[] } = { keys: [] };
  let activeKid: string | undefined;
  let retireTimer: NodeJS.Timeout | undefined;
  let closed = false;

  const keysLoaded = new Set<(change: KeysLoaded) => void>();
  /** The signing keys of the last load and their planned retirement. */
  let loadedRetireAt: ReadonlyMap<string, number | undefined> = new Map();
  const build = async () => {
    const material = await keys.load();
    const loadedAt = Date.now();
    // A key that is gone although its retirement was still ahead was withdrawn, not retired.
    const withdrawnKids = [...loadedRetireAt].filter(([kid, at]) => !material.signingRetireAt.has(kid) && (at === undefined || at > loadedAt)).map(([kid]) => kid);
    loadedRetireAt = material.signingRetireAt;
    // Reload when the next retiring key retires, so it leaves the JWKS (and the store) on time
    // on every instance, not only at the next rotation.
    clearTimeout(retireTimer);
    if (material.nextRetireAt !== undefined && !closed) {
      const delay = Math.min(Math.max(0, material.nextRetireAt - Date.now()) + 1000, 2 ** 31 - 1);
      retireTimer = setTimeout(() => { build().catch((err) => logger.error({ err }, 'identity: reloading keys at retirement failed')); }, delay);
      retireTimer.unref();
    }
    const next = new Provider(issuer, buildProviderConfig({ identity, publicUrl: issuer, jwks: material.jwks, cookieKeys: material.cookieKeys, adapter, users, clients, cutoffs, binding, blockGuard, grantJwts }));
    // The gateway sets X-Forwarded-* itself from the public URL (see handle), so trusting them is safe.
    next.proxy = true;
    next.use(providerPageHeaders);
    next.use(resumeBrowserBinding(binding, logger, emit));
    // Client secrets are stored as SHA-256; compare the presented secret's hash.
    next.Client.prototype.compareClientSecret = function compareClientSecret(actual: string) {
      return typeof this.clientSecret === 'string' && typeof actual === 'string' && secretMatches(actual, this.clientSecret);
    };
    forwardProviderEvents(next, emit, logger);
    provider = next;
    callback = next.callback();
    publicSet = Object.freeze({ keys: Object.freeze(material.jwks.map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub }) => Object.freeze(pub))) }) as { keys: JWK[] };
    activeKid = material.activeKid;
    logger.info({ kid: material.activeKid, keys: material.jwks.length }, 'identity: signing keys loaded');
    for (const listener of keysLoaded) {
      try { listener({ withdrawnKids }); } catch (err) { logger.error({ err }, 'identity: a keys-loaded listener failed'); }
    }
  };
  await build();

  const interactions = createInteractionRouter({ provider: () => provider, binding, blockGuard, kv, users, login, federation, cutoffs, config: identity, emit, logger });

  const unsubscribe = bus?.subscribe?.(['identity.keys.rotated'], async (event) => {
    // This instance's own rotation (or a repeated event) is already in effect.
    const kid = (event.payload as { kid?: unknown } | undefined)?.kid;
    if (typeof kid === 'string' && kid === activeKid) return;
    try { await build(); } catch (err) { logger.error({ err }, 'identity: reloading keys after rotation failed'); }
  });
  // The event is live, not durable: an instance disconnected from the bus at that moment (or a
  // `keys rotate` that could not publish) never hears of the rotation, and kept signing with
  // the old key after it had left every other instance's JWKS. So the store is asked too.
  let checking = false;
  const keyCheck = setInterval(() => {
    if (checking || closed) return;
    checking = true;
    keys.activeKid()
      .then(async (kid) => { if (kid !== undefined && kid !== activeKid && !closed) await build(); })
      .catch((err: unknown) => logger.warn({ err }, 'identity: checking the store for a rotated signing key failed; will retry'))
      .finally(() => { checking = false; });
  }, identity.signing.reloadCheckMs);
  keyCheck.unref();

  // A token signed with a key another instance just made (its event missed or not yet here) is
  // otherwise refused by this instance's gateway until the next keyCheck. One store check a
  // second at most, shared by concurrent misses: tokens with made-up kids (and JWKS requests,
  // see handle) cannot turn into a store query each. A rotation in the second after a check of a made-up kid waits for the next.
  const UNKNOWN_KID_CHECK_MS = 1000;
  let unknownKidCheckAt = 0;
  let unknownKidCheck: Promise<boolean> | undefined;
  const reloadKeysForUnknownKid = (): Promise<boolean> => {
    if (unknownKidCheck) return unknownKidCheck;
    if (closed || Date.now() - unknownKidCheckAt < UNKNOWN_KID_CHECK_MS) return Promise.resolve(false);
    unknownKidCheckAt = Date.now();
    unknownKidCheck = keys.activeKid()
      .then(async (kid) => {
        if (kid === undefined || kid === activeKid || closed) return false;
        await build();
        return true;
      })
      .catch((err: unknown) => {
        logger.warn({ err }, 'identity: checking the store for a key another instance made failed');
        return false;
      })
      .finally(() => { unknownKidCheck = undefined; });
    return unknownKidCheck;
  };

  const fail = (res: ServerResponse, err: unknown) => {
    logger.error({ err }, 'identity: request failed');
    if (!res.headersSent) sendHtml(res, 500, messagePage('Error', 'Something went wrong.'));
    else res.destroy();
  };

  return {
    issuer,
    jwksUri: `${issuer}${JWKS_PATH}`,
    directory,
    accounts,
    apiTokens,

    handle(req, res, info) {
      const rawPath = (req.url ?? '/').split('?')[0]!;
      if (!isProviderPath(rawPath)) return false;
      const clientAddress = info?.clientAddress ?? req.socket.remoteAddress ?? 'unknown';
      // Koa derives URLs from these when `proxy` is on: pin them to the public URL so a
      // client-sent Host or X-Forwarded-* can never change discovery or redirect URLs.
      req.headers['x-forwarded-proto'] = publicUrl.protocol.slice(0, -1);
      req.headers['x-forwarded-host'] = publicUrl.host;
      req.headers['x-forwarded-for'] = clientAddress;
      if (rawPath.startsWith('/oidc/interaction/') || rawPath.startsWith(CALLBACK_PREFIX)) {
        const url = new URL(req.url ?? '/', issuer);
        interactions(req, res, url, clientAddress).catch((err) => fail(res, err));
      } else if (rawPath === JWKS_PATH) {
        // A relying party fetches the JWKS when it meets a kid it does not know, perhaps one
        // another instance just made: this instance looks in the store first (same limit as the
        // gateway's misses), or it would answer without that key until its next keyCheck.
        reloadKeysForUnknownKid().then(() => callback(req, res)).catch((err: unknown) => fail(res, err));
      } else {
        try { callback(req, res); } catch (err) { fail(res, err); }
      }
      return true;
    },

    verifyApiToken: (token) => apiTokens.verify(token),
    inspectApiToken: (token) => apiTokens.inspect(token),
    issuedOpaqueToken: (token) => opaqueTokens.issued(token),
    publicJwks: () => publicSet,
    reloadKeysForUnknownKid,

    async rotateKeys(algorithm, rotateOptions = {}) {
      const result = await keys.rotate(algorithm, rotateOptions);
      await build();
      emit('identity.keys.rotated', {
        kid: result.kid, retireAt: new Date(result.retireAt).toISOString(), algorithm: algorithm ?? identity.signing.algorithm,
        ...(result.previousKid ? { previousKid: result.previousKid } : {}), ...(rotateOptions.retirePrevious ? { previousRetired: true } : {}),
      });
      return result;
    },

    onKeysLoaded(listener) {
      keysLoaded.add(listener);
      return () => { keysLoaded.delete(listener); };
    },

    reloadKeys: build,

    endBrowserSession: (req, res) => endBrowserSession(provider, emit, req, res),

    async close() {
      closed = true;
      clearTimeout(retireTimer);
      clearInterval(keyCheck);
      unsubscribe?.();
      await federation.close();
    },
  };
}
