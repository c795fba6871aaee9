/** `gatehouse token create|list|revoke` — API tokens. `create` returns the token once. */
import type { ApiTokenInfo, CreatedApiToken } from '../api-tokens.ts';
import type { IdentityProvider } from '../identity-provider.ts';

type Idp = Pick<IdentityProvider, 'accounts' | 'apiTokens'>;

/** Resolves a user name / e-mail / user id / service client id to a subject. */
async function subjectOf(idp: Idp, owner: string): Promise<string> {
  const user = await idp.accounts.findUser(owner);
  return user ? user.id : owner;
}

export async function tokenCreate(idp: Idp, input: { owner: string; name: string; roles?: string[]; lifetimeDays?: number }): Promise<CreatedApiToken> {
  return idp.apiTokens.create({
    ownerSubject: await subjectOf(idp, input.owner), name: input.name,
    ...(input.roles ? { roles: input.roles } : {}), ...(input.lifetimeDays ? { lifetimeDays: input.lifetimeDays } : {}),
  });
}

export async function tokenList(idp: Idp, owner?: string): Promise<ApiTokenInfo[]> {
  return idp.apiTokens.list(owner === undefined ? undefined : await subjectOf(idp, owner));
}

export async function tokenRevoke(idp: Idp, tokenId: string): Promise<void> {
  await idp.apiTokens.revoke(tokenId);
}
