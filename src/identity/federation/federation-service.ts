/**
 * Sign-in through external OpenID providers named in config, with `openid-client` as the
 * relying party (authorization code + PKCE + state + nonce). Only verified e-mail
 * addresses are accepted, optionally limited to some domains; users are either matched to
 * pre-registered accounts (by verified e-mail, then linked by the provider's `sub`) or
 * provisioned just in time, per provider.
 *
 * Linking by e-mail trusts the provider's `email_verified` once, for an account that has no
 * external identity yet. An account never gets a second identity of the same provider (an
 * address recycled or reassigned there would take the account over), and by default none of
 * another provider either: an account that signs in through `corp` is not taken over by
 * whoever has an account with the same verified address at `partner`. A provider trusted for
 * that opts in with `crossProviderLinking`. Refusals are ERR_IDENTITY_FEDERATION_LINK_CONFLICT.
 */
import * as oidc from 'openid-client';
import type { Logger } from 'pino';
import { GatehouseError } from '../../core/errors.ts';
import type { FederationProviderConfig, IdentityConfig } from '../../core/config/identity-schema.ts';
import type { KvRepo } from '../../store/repos/kv-repo.ts';
import type { IdentityUsersRepo, UserRecord } from '../../store/repos/identity-users-repo.ts';
import type { AccountService } from '../accounts/account-service.ts';
import { readFileSync } from 'node:fs';
import { fetch as undiciFetch, type Agent } from 'undici';
import { boundedFetch } from '../../core/http/bounded-fetch.ts';
import { addressGuardedAgent } from '../../core/http/address-guard.ts';
import { reauthenticationParams, staleReauthentication, type Reauthentication } from './reauthentication.ts';

const STATE_NS = 'identity:federation-state';
/** Path of the redirect URIs, followed by the provider name. */
export const CALLBACK_PREFIX = '/oidc/federation/callback/';
/** Longest e-mail address taken from a provider (RFC 5321 §4.5.3.1.3: a path of 256 octets with its angle brackets). */
const MAX_EMAIL_LENGTH = 254;

export interface FederationState {
  uid: string;
  provider: string;
  codeVerifier: string;
  nonce: string;
  /** The client's demand for a fresh sign-in, passed on to the provider and checked at the return. */
  reauthentication?: Reauthentication;
  /** Epoch seconds when the browser was sent to the provider. */
  startedAt?: number;
}

export interface FederationServiceOptions {
  config: IdentityConfig;
  mode: 'development' | 'production';
  publicUrl: string;
  kv: KvRepo;
  users: IdentityUsersRepo;
  accounts: AccountService;
  logger: Logger;
  /** Clock (tests). */
  now?: () => number;
}

/** How long a provider's discovery document is used before it is fetched again. */
const DISCOVERY_MAX_AGE_MS = 24 * 3600_000;
/** How soon a failed refetch of a discovery document is tried again. */
const DISCOVERY_RETRY_MS = 60_000;

interface CachedDiscovery {
  config: Promise<oidc.Configuration>;
  /** Epoch ms from which the next sign-in fetches the document again. */
  refreshAt: number;
  refreshing: boolean;
}

export class FederationService {
  readonly #o: FederationServiceOptions;
  readonly #configs = new Map<string, CachedDiscovery>();
  readonly #now: () => number;
  /** One connection pool per provider, connecting only where its `privateNetworks` allow. */
  readonly #agents = new Map<string, Agent>();
  /** Set by close(): no discovery after it, since each would open a pool that nothing closes. */
  #closed = false;

  constructor(options: FederationServiceOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    for (const [name, provider] of Object.entries(options.config.federation)) {
      if (provider.allowInsecureHttp && options.mode === 'production') {
        throw new GatehouseError('ERR_CONFIG_INSECURE_IN_PRODUCTION', { detail: `identity.federation.${name}.allowInsecureHttp` });
      }
      // Made now, so that an unreadable caFile stops the start instead of the first sign-in.
      this.#fetch(name, provider);
    }
  }

  /**
   * The redirect URI registered at provider `name`. One per provider, not one for all: a
   * provider that sends no `iss` with its response (RFC 9207) could otherwise not be told from
   * another, and a hostile provider could have an honest one's code sent to it (mix-up, RFC 9700
   * §4.4.2); `finish` refuses a response that came back on another provider's URI.
   */
  callbackUrl(name: string): string {
    return `${this.#o.publicUrl}${CALLBACK_PREFIX}${name}`;
  }

  providers(): { name: string; label: string }[] {
    return Object.entries(this.#o.config.federation).map(([name, p]) => ({ name, label: p.displayName ?? name }));
  }

  #provider(name: string): FederationProviderConfig {
    const provider = Object.hasOwn(this.#o.config.federation, name) ? this.#o.config.federation[name] : undefined;
    if (!provider) throw new GatehouseError('ERR_IDENTITY_FEDERATION_FAILED', { detail: `unknown provider ${name}` });
    return provider;
  }

  /**
   * Provider `name`'s discovery, fetched at its first sign-in and again once a day: a provider
   * that moves an endpoint or changes its metadata is followed without a restart. A stale
   * document keeps serving while its successor is fetched, and when that fails (the provider
   * briefly down), so that sign-ins work as they did; the next attempt comes a minute later.
   */
  #configuration(name: string): Promise<oidc.Configuration> {
    if (this.#closed) return Promise.reject(new Error('federation is closed (Gatehouse is stopping)'));
    const now = this.#now();
    const cached = this.#configs.get(name);
    if (cached && now < cached.refreshAt) return cached.config;
    if (cached) {
      if (!cached.refreshing) {
        cached.refreshing = true;
        this.#discover(name).then(
          (config) => { if (!this.#closed) this.#configs.set(name, { config: Promise.resolve(config), refreshAt: this.#now() + DISCOVERY_MAX_AGE_MS, refreshing: false }); },
          (cause: unknown) => {
            cached.refreshing = false;
            if (this.#closed) return; // its pool was closed under it: not the provider's failure
            cached.refreshAt = this.#now() + DISCOVERY_RETRY_MS;
            this.#o.logger.warn({ provider: name, err: cause }, 'identity: the provider\'s discovery document could not be fetched again; the one fetched before is still used');
          },
        );
      }
      return cached.config;
    }
    const config = this.#discover(name);
    const entry = { config, refreshAt: now + DISCOVERY_MAX_AGE_MS, refreshing: false };
    // A failed first discovery is retried at the next sign-in rather than cached.
    config.catch(() => { if (this.#configs.get(name) === entry) this.#configs.delete(name); });
    this.#configs.set(name, entry);
    return config;
  }

  #discover(name: string): Promise<oidc.Configuration> {
    const p = this.#provider(name);
    const secret = p.clientSecret ?? (p.clientSecretEnv ? process.env[p.clientSecretEnv] : undefined);
    // Every request to the provider (discovery, JWKS, token, userinfo) reads at most a bounded body.
    const options: oidc.DiscoveryRequestOptions = {
      [oidc.customFetch]: boundedFetch(this.#fetch(name, p)) as oidc.CustomFetch,
      ...(p.allowInsecureHttp ? { execute: [oidc.allowInsecureRequests] } : {}),
    };
    return oidc.discovery(new URL(p.issuer), p.clientId, secret ? { client_secret: secret } : undefined, undefined, options).then((config) => {
      // openid-client trusts an ID token from the token endpoint on TLS alone (OIDC Core
      // 3.1.3.7 allows it); its signature is checked against the provider's JWKS as well, so
      // that whoever can answer for the token endpoint cannot sign anyone in.
      oidc.enableNonRepudiationChecks(config);
      return config;
    });
  }

  /**
   * The fetch towards provider `name`: discovery says where its token, key and userinfo
   * endpoints are, so every connection is checked against public addresses and the provider's
   * `privateNetworks` (src/core/http/address-guard.ts), not only the issuer's; with `proxy`,
   * through a CONNECT tunnel to the address judged.
   */
  #fetch(name: string, p: FederationProviderConfig): typeof fetch {
    let agent = this.#agents.get(name);
    if (!agent) {
      agent = addressGuardedAgent({
        allowedNetworks: p.privateNetworks, allowListPath: `identity.federation.${name}.privateNetworks`,
        ...(p.caFile !== undefined ? { tls: { ca: readCa(name, p.caFile) } } : {}),
        ...(p.proxy !== undefined ? { proxy: { url: p.proxy } } : {}),
      });
      this.#agents.set(name, agent);
    }
    const dispatcher = agent;
    // undici's Request/Response types differ nominally from the DOM ones openid-client declares; same objects at runtime.
    return ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => undiciFetch(input as string, { ...(init as object), dispatcher })) as unknown as typeof fetch;
  }

  /** Closes the connections to the providers. */
  async close(): Promise<void> {
    this.#closed = true;
    const agents = [...this.#agents.values()];
    this.#agents.clear();
    await Promise.all(agents.map((a) => a.destroy().catch(() => {})));
  }

  /**
   * Starts sign-in at `name` for interaction `uid`; returns the external authorization URL.
   * `reauthentication`: what the client's request demands of the sign-in's freshness.
   */
  async start(name: string, uid: string, reauthentication: Reauthentication = { login: false }): Promise<URL> {
    const p = this.#provider(name);
    let config: oidc.Configuration;
    try {
      config = await this.#configuration(name);
    } catch (cause) {
      throw new GatehouseError('ERR_IDENTITY_FEDERATION_FAILED', { detail: `discovery of ${name} failed`, cause });
    }
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const record: FederationState = { uid, provider: name, codeVerifier, nonce, reauthentication, startedAt: Math.floor(Date.now() / 1000) };
    await this.#o.kv.upsert(STATE_NS, state, record, this.#o.config.ttl.interaction);
    return oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.callbackUrl(name), scope: p.scopes.join(' '), state, nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
      ...reauthenticationParams(reauthentication),
    });
  }

  /** The pending state for a callback's `state` parameter, or undefined. */
  async pending(state: string): Promise<FederationState | undefined> {
    if (!/^[A-Za-z0-9_-]{16,128}$/.test(state)) return undefined;
    const record = await this.#o.kv.find(STATE_NS, state);
    return record && record.consumedAt === null ? (record.payload as FederationState) : undefined;
  }

  /**
   * Completes the code exchange for `query`, the query string of the response that came back
   * on provider `via`'s redirect URI, and returns the Gatehouse user to sign in. One-time: a
   * replayed callback fails, and so does the state (burnt) of a response that came back on
   * the redirect URI of another provider than the one it was made for (mix-up).
   */
  async finish(uid: string, via: string, query: URLSearchParams): Promise<{ user: UserRecord; provider: string }> {
    const state = query.get('state') ?? '';
    const pending = await this.pending(state);
    if (!pending || pending.uid !== uid || !(await this.#o.kv.consume(STATE_NS, state))) {
      throw new GatehouseError('ERR_IDENTITY_FEDERATION_FAILED', { detail: 'unknown, replayed or foreign federation state' });
    }
    if (pending.provider !== via) {
      throw new GatehouseError('ERR_IDENTITY_FEDERATION_FAILED', { detail: `response for ${pending.provider} came back from ${via} (mix-up)` });
    }
    const p = this.#provider(pending.provider);
    let claims: oidc.IDToken;
    try {
      const config = await this.#configuration(pending.provider);
      const tokens = await oidc.authorizationCodeGrant(config, new URL(`${this.callbackUrl(pending.provider)}?${query.toString()}`), {
        pkceCodeVerifier: pending.codeVerifier, expectedState: state, expectedNonce: pending.nonce, idTokenExpected: true,
        ...(pending.reauthentication?.maxAge !== undefined ? { maxAge: pending.reauthentication.maxAge } : {}),
      });
      claims = tokens.claims()!;
      const stale = pending.reauthentication ? staleReauthentication(pending.reauthentication, claims.auth_time, pending.startedAt ?? 0) : undefined;
      if (stale !== undefined) throw new Error(stale);
      // Conforming providers put scope claims (email, groups …) in userinfo, not the ID token;
      // fetchUserInfo checks that userinfo's `sub` is the ID token's.
      if (claims.email === undefined || claims[p.roleClaim] === undefined) {
        const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
        // email_verified vouches for the address it came with only: userinfo's is not taken for
        // another address the ID token names (that would link the account owning that address).
        const fromToken = claims.email !== undefined;
        const email = fromToken ? claims.email : info.email;
        const emailVerified = fromToken ? claims.email_verified ?? (info.email === claims.email ? info.email_verified : undefined) : info.email_verified;
        claims = { ...info, ...claims, email, email_verified: emailVerified, [p.roleClaim]: claims[p.roleClaim] ?? info[p.roleClaim] } as oidc.IDToken;
      }
    } catch (cause) {
      throw new GatehouseError('ERR_IDENTITY_FEDERATION_FAILED', { detail: `code exchange with ${pending.provider} failed`, cause });
    }
    const user = await this.#resolveUser(pending.provider, p, claims);
    return { user, provider: pending.provider };
  }

  async #resolveUser(name: string, p: FederationProviderConfig, claims: oidc.IDToken): Promise<UserRecord> {
    // Never cut: the first 256 characters of an address the provider verified (`<someone's
    // 256-character address>.evil.test`) are someone else's address. Longer than RFC 5321 allows: none.
    const email = typeof claims.email === 'string' && claims.email.length <= MAX_EMAIL_LENGTH ? claims.email.toLowerCase() : undefined;
    // String#toLowerCase (here and in the store's e-mail lookup) maps some non-ASCII letters onto
    // others, even onto ASCII (KELVIN SIGN U+212A → "k"): the provider vouched for
    // "\u212Aevin@…", a mailbox other than kevin@…, whose account it must not reach. Only
    // ASCII case is folded; an address that folds otherwise is refused.
    const foldsOnlyAscii = typeof claims.email !== 'string' || claims.email.toLowerCase() === claims.email.replace(/[A-Z]/g, (c) => c.toLowerCase());
    // `data` is for the audit event (identity.login.failed), never for the client.
    const denied = (detail: string, subject?: string) => new GatehouseError('ERR_IDENTITY_FEDERATION_NOT_ALLOWED', {
      detail: `${name}: ${detail}`, data: { provider: name, ...(email ? { email } : {}), ...(subject ? { subject } : {}) },
    });
    const linked = await this.#o.users.findLinkedUser(name, claims.sub);
    if (linked) {
      if (linked.disabled) throw denied(`user ${linked.id} is disabled`, linked.id);
      return this.#syncRoles(name, p, linked, claims);
    }
    if (typeof claims.email === 'string' && claims.email.length > MAX_EMAIL_LENGTH) throw denied(`e-mail longer than ${MAX_EMAIL_LENGTH} characters`);
    if (!email || claims.email_verified !== true) throw denied('no verified e-mail in the ID token');
    if (!foldsOnlyAscii) throw denied(`e-mail ${JSON.stringify(claims.email)} changes under Unicode case folding`);
    const domain = email.slice(email.lastIndexOf('@') + 1);
    if (p.allowedEmailDomains.length && !p.allowedEmailDomains.includes(domain)) throw denied(`e-mail domain ${domain} not allowed`);
    const existing = await this.#o.users.findByEmail(email);
    if (existing) {
      if (existing.disabled) throw denied(`user ${existing.id} is disabled`, existing.id);
      // One conditional insert: two sign-ins racing to link the same account cannot both win.
      if (!(await this.#o.users.linkIfFree(name, claims.sub, existing.id, p.crossProviderLinking ? 'provider' : 'any'))) {
        throw new GatehouseError('ERR_IDENTITY_FEDERATION_LINK_CONFLICT', {
          detail: `${name}: ${email} (sub ${claims.sub}) names user ${existing.id}, already linked to ${p.crossProviderLinking ? 'another identity of this provider' : 'an external identity'}`,
          data: { provider: name, email, subject: existing.id },
        });
      }
      return this.#syncRoles(name, p, existing, claims);
    }
    if (p.provisioning !== 'jit') throw denied(`no pre-registered user with ${email}`);
    const roles = providerRoles(p, claims);
    const user = await this.#o.accounts.addUser({
      username: email, email, emailVerified: true, roles,
      ...(typeof claims.name === 'string' ? { displayName: claims.name.slice(0, 128) } : {}),
    });
    await this.#o.users.link(name, claims.sub, user.id);
    this.#o.logger.info({ provider: name, subject: user.id }, 'identity: user provisioned just in time');
    return user;
  }

  /**
   * With `syncRoles`, makes the roles this provider manages match its current claims; other
   * roles stay. A missing role claim means "no roles" (fail closed): the managed roles go.
   */
  async #syncRoles(name: string, p: FederationProviderConfig, user: UserRecord, claims: oidc.IDToken): Promise<UserRecord> {
    if (!p.syncRoles) return user;
    const managed = new Set([...p.defaultRoles, ...Object.values(p.roleMapping).flat()]);
    if (!managed.size) return user;
    const roles = [...new Set([...user.roles.filter((r) => !managed.has(r)), ...providerRoles(p, claims)])];
    const unchanged = roles.length === user.roles.length && roles.every((r) => user.roles.includes(r));
    if (unchanged) return user;
    this.#o.logger.info({ provider: name, subject: user.id, added: roles.filter((r) => !user.roles.includes(r)), removed: user.roles.filter((r) => !roles.includes(r)) }, 'identity: roles synchronised from the federated provider');
    return this.#o.accounts.setUserRoles(user.id, roles);
  }
}

/** The Gatehouse roles a provider's claims grant: its default roles plus the mapped ones. */
function providerRoles(p: FederationProviderConfig, claims: oidc.IDToken): string[] {
  const external = claims[p.roleClaim];
  const names = Array.isArray(external) ? external.filter((v): v is string => typeof v === 'string') : typeof external === 'string' ? [external] : [];
  return [...new Set([...p.defaultRoles, ...names.flatMap((n) => (Object.hasOwn(p.roleMapping, n) ? p.roleMapping[n]! : []))])];
}

function readCa(name: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `identity.federation.${name}.caFile: cannot read ${file}`, cause });
  }
}
