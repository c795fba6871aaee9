/**
 * `gatehouse user add|list|disable|enable|unlock|set-password|reset-mfa` — the functions
 * the CLI wires into commander. Each returns plain data for the CLI to print; secrets are
 * never returned except where the command exists to show one once.
 */
import type { IdentityProvider } from '../identity-provider.ts';

export interface UserSummary {
  id: string;
  username: string;
  email: string | undefined;
  roles: string[];
  disabled: boolean;
  mfa: boolean;
  lockedUntil: string | undefined;
}

type Idp = Pick<IdentityProvider, 'accounts'>;

function summary(u: { id: string; username: string; email: string | undefined; roles: string[]; disabled: boolean; totpEnabled: boolean; lockedUntil: number | undefined }): UserSummary {
  return {
    id: u.id, username: u.username, email: u.email, roles: u.roles, disabled: u.disabled, mfa: u.totpEnabled,
    lockedUntil: u.lockedUntil && u.lockedUntil > Date.now() ? new Date(u.lockedUntil).toISOString() : undefined,
  };
}

export async function userAdd(idp: Idp, input: { username: string; email?: string; password?: string; roles?: string[]; displayName?: string }): Promise<UserSummary> {
  return summary(await idp.accounts.addUser(input));
}

export async function userList(idp: Idp): Promise<UserSummary[]> {
  return (await idp.accounts.listUsers()).map(summary);
}

export async function userDisable(idp: Idp, ref: string): Promise<UserSummary> {
  return summary(await idp.accounts.setUserDisabled(ref, true));
}

export async function userEnable(idp: Idp, ref: string): Promise<UserSummary> {
  return summary(await idp.accounts.setUserDisabled(ref, false));
}

export async function userUnlock(idp: Idp, ref: string): Promise<UserSummary> {
  return summary(await idp.accounts.unlockUser(ref));
}

export async function userSetPassword(idp: Idp, ref: string, password: string): Promise<void> {
  await idp.accounts.setPassword(ref, password);
}

export async function userResetMfa(idp: Idp, ref: string): Promise<void> {
  await idp.accounts.resetMfa(ref);
}
