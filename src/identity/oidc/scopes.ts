/** Scopes the provider itself understands (anything else is a resource scope). */
export const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email', 'roles'] as const;
