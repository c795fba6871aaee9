/**
 * Public surface of the identity provider (see docs/identity.md).
 */
export { createIdentityProvider } from './identity-provider.ts';
export type { IdentityProvider, IdentityProviderOptions, IdentityEventSink, RequestInfo } from './identity-provider.ts';
export type { EndedBrowserSession } from './oidc/end-browser-session.ts';
export type { Principal, PrincipalDirectory } from './accounts/principal-directory.ts';
export { USER_ID_PREFIX } from './accounts/principal-directory.ts';
export type { VerifiedApiToken, CreatedApiToken, ApiTokenInfo, ApiTokenService } from './api-tokens.ts';
export type { AccountService, AddUserInput, AddClientInput, ClientAuthMethod } from './accounts/account-service.ts';
export type { IdentityEventName, IdentityEventPayloads } from './events.ts';
export { API_TOKEN_PREFIX } from './accounts/secrets.ts';
export { OIDC_ROUTES, OIDC_SCOPES } from './oidc/provider-config.ts';
