/**
 * Schema of the gateway's authentication stage: bearer JWT issuers and their key strategies,
 * caches, browser sessions and the login flow against Gatehouse's own identity provider.
 * Every object is `.strict()` so that an unknown key is an error naming its path.
 */
import { z } from 'zod';

const durationMs = z.number().int().min(1).max(30 * 24 * 3600 * 1000);
// Run as setInterval periods: Node sets a longer one (~24.8 days) to 1 ms, with only a warning.
const timerMs = z.number().int().min(1).max(2 ** 31 - 1);

/**
 * Asymmetric JWS algorithms only. HMAC algorithms are left out on purpose: with a shared secret
 * any verifier can mint tokens, and an HS* entry in an allow-list is what makes the
 * "re-signed with the public key" confusion attack possible.
 */
export const jwsAlgorithmSchema = z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);

export const jwksKeysSchema = z.object({
  type: z.literal('jwks'),
  url: z.url().refine((u) => u.startsWith('https://'), 'must be an https:// URL').describe('JWKS endpoint of the issuer. Fetched with redirects refused; cached; refreshed on an unknown `kid` at most once per `cooldownMs`.'),
  caFile: z.string().min(1).optional().describe('PEM file of CA certificates trusted for the JWKS endpoint (default: the system trust store).'),
  cacheMaxAgeMs: durationMs.default(600_000).describe('Age after which cached keys are fetched again.'),
  cooldownMs: z.number().int().min(1_000).max(3_600_000).default(30_000).describe('Least time between two fetches triggered by unknown `kid` values (refresh rate limit).'),
  timeoutMs: z.number().int().min(100).max(60_000).default(5_000).describe('Timeout of one JWKS fetch; on failure tokens are refused (fail closed).'),
}).strict();

export const thumbprintKeysSchema = z.object({
  type: z.literal('x5t#S256'),
  certificateFiles: z.array(z.string().min(1)).min(1).describe('PEM files of the signing certificates trusted directly; the token header `x5t#S256` selects one of them.'),
}).strict();

export const chainKeysSchema = z.object({
  type: z.literal('x5c'),
  caFiles: z.array(z.string().min(1)).min(1).describe('PEM files of the CA certificates an `x5c` chain must end in. The leaf alone is never trusted.'),
  maxChainLength: z.number().int().min(1).max(10).default(4).describe('Most certificates accepted in `x5c`.'),
}).strict();

export const issuerSchema = z.object({
  issuer: z.string().min(1).describe('Exact `iss` value of the tokens.'),
  algorithms: z.array(jwsAlgorithmSchema).min(1).describe('Signature algorithms accepted from this issuer; anything else (including `none` and HS*) is refused.'),
  audiences: z.array(z.string().min(1)).min(1).optional().describe('Accepted `aud` values when the route does not list its own (default: the route id and the public URL).'),
  clockSkewSec: z.number().int().min(0).max(300).default(30).describe('Tolerance applied to `exp` and `nbf`.'),
  typ: z.string().min(1).optional().describe('Required `typ` header, e.g. `at+jwt` (RFC 9068). Omitted: not checked.'),
  keys: z.discriminatedUnion('type', [jwksKeysSchema, thumbprintKeysSchema, chainKeysSchema]).describe('Where the verification keys come from.'),
  principals: z.enum(['directory', 'claims']).default('claims').describe('`directory`: the subject must be a known, enabled principal of Gatehouse; `claims`: roles come from the token.'),
  rolesClaim: z.string().min(1).default('roles').describe('Claim holding the roles when `principals: claims`.'),
  roleMapping: z.record(z.string(), z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}$/, 'letters, digits, colon, dot, dash, underscore'))).optional().describe('With `principals: claims`: the token\'s role names → Gatehouse roles; names not mapped are dropped (`{ admin: [] }` drops one explicitly). Omitted: every role the token names is taken as it is, so the issuer can grant itself any role your policies trust (`admin`) — a development convenience, warned about, and refused in production.'),
  kind: z.enum(['user', 'service']).default('user').describe('Kind of principal tokens of this issuer name when `principals: claims`.'),
}).strict();

export const authnSchema = z.object({
  maxTokenBytes: z.number().int().min(256).max(64 * 1024).default(8 * 1024).describe('Longest bearer token accepted; longer ones are refused before any parsing.'),
  gatehouseIssuer: z.object({
    enabled: z.boolean().default(true).describe('Accept access tokens issued by Gatehouse\'s own identity provider (issuer = publicUrl).'),
    algorithms: z.array(jwsAlgorithmSchema).min(1).default(['ES256', 'RS256', 'EdDSA']),
    typ: z.string().min(1).optional().default('at+jwt'),
    clockSkewSec: z.number().int().min(0).max(300).default(30),
  }).strict().default({ enabled: true, algorithms: ['ES256', 'RS256', 'EdDSA'], typ: 'at+jwt', clockSkewSec: 30 }),
  issuers: z.array(issuerSchema).default([]).describe('External issuers whose bearer JWTs are accepted.'),
  tokenCache: z.object({
    maxEntries: z.number().int().min(0).max(10_000_000).default(100_000).describe('Verified tokens kept (LRU), each until its `exp`. 0 disables the cache.'),
    apiTokenTtlMs: durationMs.default(30_000).describe('How long a verified API token is trusted without asking the directory again.'),
    principalTtlMs: durationMs.default(30_000).describe('How long a cached JWT of Gatehouse\'s own identity provider (or any `principals: directory` issuer) is trusted before its principal is read again: the bound on how late a change nobody announced to this instance takes effect (a user disabled or signed out everywhere, or a service removed, by the CLI while the gateway runs on the in-process bus, or an event lost with the bus). Changes announced on the bus apply at once.'),
  }).strict().default({ maxEntries: 100_000, apiTokenTtlMs: 30_000, principalTtlMs: 30_000 }),
  session: z.object({
    idleTimeoutMs: durationMs.default(30 * 60_000).describe('A session unused this long ends.'),
    absoluteTimeoutMs: durationMs.default(12 * 3600_000).describe('A session ends this long after login, however active.'),
    touchIntervalMs: durationMs.default(60_000).describe('How often activity is written to the store (idle tracking across instances). Must be less than `idleTimeoutMs`: the store learns of activity up to this late, so a session stays alive across a pause of at most `idleTimeoutMs` − `touchIntervalMs`.'),
    maxCachedSessions: z.number().int().min(0).max(10_000_000).default(100_000),
    crossSiteCheck: z.boolean().default(true).describe('Refuse requests with an unsafe method (not GET, HEAD, OPTIONS), and WebSocket handshakes, that a session cookie authenticates when the browser says they come from another origin (`Sec-Fetch-Site` other than same-origin/none, or else an `Origin` naming another host): 403 ERR_AUTHN_CROSS_SITE_REQUEST. Turn off only for apps on sibling origins that post to the gateway with its session cookie.'),
  }).strict()
    // The store's record of activity lags by up to touchIntervalMs, and the store (pruning,
    // other instances, this one after its cache lost the entry) ends a session by it: with a
    // touch interval at or past the idle timeout, a session in constant use would be ended as
    // idle before its activity was ever written.
    .refine((s) => s.touchIntervalMs < s.idleTimeoutMs, { message: 'must be less than authn.session.idleTimeoutMs: activity would be recorded only after the session had already ended as idle', path: ['touchIntervalMs'] })
    .default({ idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: 12 * 3600_000, touchIntervalMs: 60_000, maxCachedSessions: 100_000, crossSiteCheck: true }),
  dpop: z.object({
    algorithms: z.array(jwsAlgorithmSchema).min(1).default(['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256']).describe('Signature algorithms accepted for DPoP proofs (RFC 9449); asymmetric only.'),
    maxAgeSec: z.number().int().min(1).max(600).default(60).describe('A proof whose `iat` is older than this is refused; seen proofs are remembered this long (plus skew).'),
    clockSkewSec: z.number().int().min(0).max(60).default(5).describe('How far in the future a proof\'s `iat` may be.'),
    replayCache: z.enum(['memory', 'store']).default('memory').describe('Where seen proof ids are remembered: `memory` (one instance) or `store` (shared by every instance on the database; use with several instances).'),
    maxReplayEntries: z.number().int().min(1_000).max(100_000_000).default(1_000_000).describe('Most proof ids remembered in memory; size above requests per second × `maxAgeSec`.'),
    allowedOrigins: z.array(z.url()).default([]).describe('Origins besides `publicUrl` that DPoP proofs may name in `htu` (other host names the gateway serves).'),
  }).strict().default({ algorithms: ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256'], maxAgeSec: 60, clockSkewSec: 5, replayCache: 'memory', maxReplayEntries: 1_000_000, allowedOrigins: [] }),
  maintenance: z.object({
    pruneIntervalMs: timerMs.default(5 * 60_000).describe('How often expired sessions, pending logins, revocations and seen DPoP proofs are deleted from the store.'),
    revocationRefreshMs: timerMs.default(30_000).describe('How often revoked token ids are re-read from the store: the bound on how late a revocation takes effect when an event is lost.'),
  }).strict().default({ pruneIntervalMs: 5 * 60_000, revocationRefreshMs: 30_000 }),
  login: z.object({
    clientId: z.string().min(1).default('gatehouse-gateway').describe('Client id of the gateway at its own identity provider.'),
    clientSecret: z.string().min(1).optional().describe('Client secret (use `${ENV_VAR}`); omitted: the client is public and relies on PKCE alone.'),
    scopes: z.array(z.string().min(1)).default(['openid', 'profile']),
    loginTimeoutMs: durationMs.default(10 * 60_000).describe('Time a browser has to complete the login at the identity provider.'),
  }).strict().default({ clientId: 'gatehouse-gateway', scopes: ['openid', 'profile'], loginTimeoutMs: 10 * 60_000 }),
}).strict();

export type AuthnConfig = z.infer<typeof authnSchema>;
export type IssuerConfig = z.infer<typeof issuerSchema>;
export type JwsAlgorithm = z.infer<typeof jwsAlgorithmSchema>;
