/**
 * Schema of the identity provider's configuration: signing keys, token lifetimes,
 * login protection, MFA, resources (audiences), federation and API tokens.
 * Every object is `.strict()` so that an unknown key is an error naming its path.
 */
import { z } from 'zod';
import { cidr } from './ip-rules-schema.ts';
import { parseProxyUrl } from '../net/proxy-url.ts';

const seconds = (max: number) => z.number().int().min(1).max(max);
const DAY = 86_400;

/** An egress proxy's URL; the problem never quotes it (it may hold a password). */
const proxyUrl = z.string().superRefine((text, ctx) => {
  const proxy = parseProxyUrl(text);
  if (typeof proxy === 'string') ctx.addIssue({ code: 'custom', message: proxy });
});

const roleName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}$/, 'letters, digits, colon, dot, dash, underscore');

export const federationProviderSchema = z.object({
  issuer: z.url().describe('Issuer URL of the external OpenID provider; its discovery document is fetched from `<issuer>/.well-known/openid-configuration`.'),
  displayName: z.string().min(1).max(64).optional().describe('Label of the sign-in button. Default: the provider name.'),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1).optional().describe('Client secret at the external provider. Prefer `clientSecretEnv`.'),
  clientSecretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional().describe('Name of the environment variable holding the client secret.'),
  scopes: z.array(z.string().min(1)).default(['openid', 'email', 'profile']),
  provisioning: z.enum(['preregistered', 'jit']).default('preregistered').describe('`preregistered`: only users that already exist (matched by verified email) may sign in; `jit`: unknown users with an allowed email domain are created at first sign-in.'),
  allowedEmailDomains: z.array(z.string().regex(/^[a-z0-9.-]+$/)).default([]).describe('E-mail domains accepted from this provider; empty: any domain (only sensible with `preregistered`).'),
  roleClaim: z.string().min(1).default('groups').describe('Claim of the external ID token (or userinfo) holding group/role names.'),
  roleMapping: z.record(z.string(), z.array(roleName)).default({}).describe('External role/group name → Gatehouse roles. Unmapped names are ignored.'),
  defaultRoles: z.array(roleName).default([]).describe('Roles given to users provisioned just in time, in addition to mapped roles.'),
  crossProviderLinking: z.boolean().default(false).describe('At a first sign-in through this provider, link the external identity to a Gatehouse account found by its verified e-mail even when that account already signs in through another provider. `false`: such a sign-in is refused (`ERR_IDENTITY_FEDERATION_LINK_CONFLICT`), since whoever controls an account with the same verified address at this provider would take over the account. An account never gets a second identity of the same provider, whatever this says.'),
  syncRoles: z.boolean().default(true).describe('At every sign-in through this provider, set the roles this provider manages (every role named in `roleMapping` and `defaultRoles`) from its current claims: mapped roles are added, managed roles it no longer asserts are removed. Roles granted locally that the provider does not manage are kept. `false`: roles are mapped only when a user is provisioned.'),
  allowInsecureHttp: z.boolean().default(false).describe('Allow an http:// issuer (development only; refused in production).'),
  privateNetworks: z.array(cidr).max(100).default([]).describe('Networks outside the public internet where this provider may be reached (`10.0.0.0/8`, `fd00::/8`, `192.0.2.7`): for a provider run inside your own network, such as an in-cluster Keycloak. Empty (the default): every request to the provider (discovery, keys, token, userinfo) connects only to public addresses, so a discovery document naming an endpoint on loopback, a private or link-local network (cloud metadata at 169.254.169.254) or any other non-public address fails the sign-in with `ERR_IDENTITY_FEDERATION_FAILED` instead of having Gatehouse send requests, with its client secret, into its own network. The address connected to is the one checked, so DNS answers that change between lookups do not get around it.'),
  caFile: z.string().min(1).optional().describe('PEM file of the CA certificates trusted for this provider\'s TLS, for a provider with a private CA (default: the system trust store).'),
  proxy: proxyUrl.optional().describe('HTTP egress proxy for every connection to this provider, `http://host:port` or `https://host:port`, with `user:password@` (percent-encoded) for `Proxy-Authorization: Basic`; write it as `${ENV_VAR}` when it holds a password. Gatehouse still resolves the provider\'s names and judges the addresses (`privateNetworks`), and asks the proxy to CONNECT to the address that passed, not to the name; TLS to the provider runs inside the tunnel, checked against the name (and `caFile`). The proxy\'s own address is not judged. An https:// proxy is checked against the system trust store (`NODE_EXTRA_CA_CERTS` for a private CA). A proxy that refuses CONNECT, or does not answer within 10 s, fails the sign-in with `ERR_IDENTITY_FEDERATION_FAILED`. Default: direct connections; proxy environment variables (`HTTPS_PROXY`) are not used. Credentials over http:// to a non-loopback proxy travel in clear text: warned about, refused in production.'),
}).strict();

export const identitySchema = z.object({
  enabled: z.boolean().default(true).describe('Serve the OpenID provider at `/.well-known/openid-configuration` and `/oidc/…`.'),
  signing: z.object({
    algorithm: z.enum(['ES256', 'EdDSA', 'RS256']).default('ES256').describe('Algorithm of newly generated signing keys.'),
    keyEncryptionSecret: z.string().min(43).optional().describe('Base64url secret (≥ 32 bytes) that encrypts private signing keys and cookie keys at rest in the store. Prefer `keyEncryptionSecretEnv`. Omitted in development: a generated secret in the data directory.'),
    keyEncryptionSecretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).default('GATEHOUSE_KEY_ENCRYPTION_SECRET').describe('Environment variable read for the key-encryption secret when `keyEncryptionSecret` is not set.'),
    reloadCheckMs: z.number().int().min(100).max(3_600_000).default(30_000).describe('How often each instance compares the signing key it uses with the active one in the store, and reloads its keys when they differ: a rotation reaches an instance that missed its `identity.keys.rotated` event (disconnected from the bus) within this time.'),
  }).strict().default({ algorithm: 'ES256', keyEncryptionSecretEnv: 'GATEHOUSE_KEY_ENCRYPTION_SECRET', reloadCheckMs: 30_000 }),
  ttl: z.object({
    accessToken: seconds(DAY).default(600),
    clientCredentials: seconds(DAY).default(600),
    idToken: seconds(DAY).default(3600),
    authorizationCode: seconds(600).default(60),
    refreshToken: seconds(365 * DAY).default(14 * DAY),
    session: seconds(365 * DAY).default(14 * DAY),
    interaction: seconds(DAY).default(900),
  }).strict().default({ accessToken: 600, clientCredentials: 600, idToken: 3600, authorizationCode: 60, refreshToken: 14 * DAY, session: 14 * DAY, interaction: 900 }),
  resources: z.array(z.url()).default([]).describe('Resource indicators (RFC 8707) for which JWT access tokens (RFC 9068) are issued, in addition to the public URL. Their value is the token audience.'),
  login: z.object({
    delayAfterFailures: z.number().int().min(1).max(100).default(3).describe('Consecutive failures for one account after which each further attempt is delayed progressively.'),
    lockAfterFailures: z.number().int().min(2).max(1000).default(10).describe('Consecutive failures for one account that lock it.'),
    lockSeconds: seconds(30 * DAY).default(900),
    addressLockAfterFailures: z.number().int().min(2).max(100_000).default(50).describe('Failures from one client address (any account) within `addressWindowSeconds` that block the address.'),
    addressWindowSeconds: seconds(DAY).default(900),
    maxDelayMs: z.number().int().min(0).max(30_000).default(5_000),
  }).strict().default({ delayAfterFailures: 3, lockAfterFailures: 10, lockSeconds: 900, addressLockAfterFailures: 50, addressWindowSeconds: 900, maxDelayMs: 5_000 }),
  mfa: z.object({
    required: z.boolean().default(false).describe('Every user must enroll TOTP at the next login.'),
    requiredForRoles: z.array(roleName).default([]).describe('Users holding any of these roles must enroll TOTP at their next login, as `required` demands of every user. Name the roles that reach routes with `stepUp` (or approve on them): a step-up sign-in does not let an account without TOTP enroll one (see `enrollDuringStepUp`).'),
    enrollDuringStepUp: z.boolean().default(false).describe('Let a sign-in that asks for the second factor (a step-up login; a client sending `acr_values=urn:gatehouse:mfa`) be met by enrolling a new TOTP, and count every enrollment as its sign-in\'s second factor. Whoever has only the password (or a federated session) of an account without TOTP then enrolls an authenticator of their own and passes step-up routes and approvals on them. `false`: such a sign-in is refused with `ERR_IDENTITY_MFA_NOT_ENROLLED`, and an enrollment (at an ordinary login, under `required` or `requiredForRoles`) counts only from the next login that uses the code. Development only: warned about, refused in production.'),
    issuer: z.string().min(1).max(64).default('Gatehouse').describe('Issuer label shown in authenticator apps.'),
    recoveryCodes: z.number().int().min(4).max(20).default(10),
  }).strict().default({ required: false, requiredForRoles: [], enrollDuringStepUp: false, issuer: 'Gatehouse', recoveryCodes: 10 }),
  federation: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/), federationProviderSchema).default({}),
  apiTokens: z.object({
    defaultLifetimeDays: z.number().int().min(1).max(3650).default(90),
    maxLifetimeDays: z.number().int().min(1).max(3650).default(365),
  }).strict().default({ defaultLifetimeDays: 90, maxLifetimeDays: 365 }),
}).strict();

export type IdentityConfig = z.infer<typeof identitySchema>;
export type FederationProviderConfig = z.infer<typeof federationProviderSchema>;
