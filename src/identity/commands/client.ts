/** `gatehouse client add|list|rotate-secret|disable|enable|remove`. The secret is returned once, at add/rotate. */
import type { AddClientInput } from '../accounts/account-service.ts';
import type { IdentityProvider } from '../identity-provider.ts';

type Idp = Pick<IdentityProvider, 'accounts'>;

export interface ClientSummary {
  clientId: string;
  kind: 'service' | 'app';
  /** Apps only: `native` matches its http loopback redirect URIs on any port (RFC 8252 §7.3). */
  applicationType: 'web' | 'native' | undefined;
  name: string;
  authMethod: string;
  redirectUris: string[];
  roles: string[];
  allowedScopes: string[];
  allowedAudiences: string[];
  disabled: boolean;
}

function summary(c: { clientId: string; kind: 'service' | 'app'; name: string; metadata: Record<string, unknown>; roles: string[]; allowedScopes: string[]; allowedAudiences: string[]; disabled: boolean }): ClientSummary {
  return {
    clientId: c.clientId, kind: c.kind,
    applicationType: c.kind === 'app' ? (c.metadata.application_type === 'native' ? 'native' : 'web') : undefined,
    name: c.name, authMethod: String(c.metadata.token_endpoint_auth_method ?? ''),
    redirectUris: (c.metadata.redirect_uris as string[] | undefined) ?? [], roles: c.roles, allowedScopes: c.allowedScopes,
    allowedAudiences: c.allowedAudiences, disabled: c.disabled,
  };
}

export async function clientAdd(idp: Idp, input: AddClientInput): Promise<{ client: ClientSummary; secret: string | undefined }> {
  const { client, secret } = await idp.accounts.addClient(input);
  return { client: summary(client), secret };
}

export async function clientList(idp: Idp): Promise<ClientSummary[]> {
  return (await idp.accounts.listClients()).map(summary);
}

export async function clientRotateSecret(idp: Idp, clientId: string): Promise<{ secret: string }> {
  return { secret: await idp.accounts.rotateClientSecret(clientId) };
}

export async function clientRemove(idp: Idp, clientId: string): Promise<void> {
  await idp.accounts.removeClient(clientId);
}

/** Disabling ends what was issued to the client (grants, refresh and access tokens, its JWTs at every gateway); enabling issues again, it revives nothing. */
export async function clientSetDisabled(idp: Idp, clientId: string, disabled: boolean): Promise<void> {
  await idp.accounts.setClientDisabled(clientId, disabled);
}
