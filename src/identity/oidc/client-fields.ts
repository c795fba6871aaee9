/**
 * Gatehouse's own client fields (kind, roles, allowed scopes and audiences) travel inside
 * the client metadata that the store adapter hands to oidc-provider, as extra client
 * metadata. The provider's hooks (resource indicators, token claims) then read them from
 * the client object of the request instead of querying `identity_clients` again: one
 * client lookup per token request instead of four.
 */
import type { ClientRecord } from '../../store/repos/identity-clients-repo.ts';

/** Extra client metadata names (oidc-provider's `extraClientMetadata.properties`). */
export const GATEHOUSE_CLIENT_PROPERTIES = ['gatehouse_kind', 'gatehouse_roles', 'gatehouse_allowed_scopes', 'gatehouse_allowed_audiences'] as const;

export interface GatehouseClientFields {
  kind: 'service' | 'app';
  roles: string[];
  allowedScopes: string[];
  allowedAudiences: string[];
}

/** The extra metadata for a stored client. */
export function clientFieldsMetadata(client: ClientRecord): Record<(typeof GATEHOUSE_CLIENT_PROPERTIES)[number], unknown> {
  return {
    gatehouse_kind: client.kind,
    gatehouse_roles: client.roles,
    gatehouse_allowed_scopes: client.allowedScopes,
    gatehouse_allowed_audiences: client.allowedAudiences,
  };
}

const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');

/**
 * Reads the fields back from an oidc-provider client object; undefined when any is missing
 * or malformed (callers then fall back to the store, never to a permissive default).
 */
export function clientFields(client: unknown): GatehouseClientFields | undefined {
  if (typeof client !== 'object' || client === null) return undefined;
  const c = client as Record<string, unknown>;
  const kind = c.gatehouse_kind;
  const roles = c.gatehouse_roles;
  const allowedScopes = c.gatehouse_allowed_scopes;
  const allowedAudiences = c.gatehouse_allowed_audiences;
  if ((kind !== 'service' && kind !== 'app') || !isStringArray(roles) || !isStringArray(allowedScopes) || !isStringArray(allowedAudiences)) return undefined;
  return { kind, roles, allowedScopes, allowedAudiences };
}

/** `extraClientMetadata.validator`: the values come from the store, but are checked anyway. */
export function validateClientField(_ctx: unknown, key: string, value: unknown): void {
  if (key === 'gatehouse_kind' ? value !== 'service' && value !== 'app' : !isStringArray(value)) {
    throw new TypeError(`invalid ${key}`);
  }
}
