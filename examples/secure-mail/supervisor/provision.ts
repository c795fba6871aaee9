/**
 * What the supervisor sets up in Gatehouse before anything runs, through the same command
 * functions and store the `gatehouse` CLI uses (`withCliContext`): the CA (created on first
 * start), a service principal per service, the demo users (created when missing; an existing user keeps its roles), and a fresh one-use bootstrap
 * token per service. Gatehouse itself is not running yet, so nothing races for the store.
 */
import { randomBytes } from 'node:crypto';
import { withCliContext } from '../../../src/cli/context.ts';
import { GatehouseError } from '../../../src/core/errors.ts';
import { userAdd, userList } from '../../../src/identity/commands/user.ts';
import { caInitCommand } from '../../../src/pki/commands/ca-init.ts';
import { bootstrapTokenCreateCommand } from '../../../src/pki/commands/bootstrap-token-create.ts';
import { openAuthority } from '../../../src/pki/commands/context.ts';
import type { ServiceName } from '../shared/service-setup.ts';

export interface DemoUser { username: string; subject: string; email: string }

export interface Provisioned {
  /** Every demo user (for the services' directory). */
  users: DemoUser[];
  /** Passwords of users created by this start: shown once, stored nowhere. */
  newPasswords: Record<string, string>;
  /** One-use bootstrap token per service. */
  tokens: Record<ServiceName, string>;
  /** Whether the CA was created by this start. */
  caCreated: boolean;
}

export const MAIL_ROLE = 'mail-user';
/** May purge a mailbox (route mail-admin); two of them, so that one can approve the other's purge. */
export const ADMIN_ROLE = 'mail-admin';
/** Demo users and their roles: alice and bob write mail; carol and dave administer it (and write mail). */
export const DEMO_USERS: Readonly<Record<string, readonly string[]>> = {
  alice: [MAIL_ROLE], bob: [MAIL_ROLE], carol: [MAIL_ROLE, ADMIN_ROLE], dave: [MAIL_ROLE, ADMIN_ROLE],
};

export function serviceSpiffeId(trustDomain: string, name: ServiceName): string {
  return `spiffe://${trustDomain}/svc/${name}`;
}

export async function provision(configFile: string, services: readonly ServiceName[]): Promise<Provisioned> {
  return withCliContext({ config: configFile }, async (ctx) => {
    const pki = await ctx.pki();
    let caCreated = false;
    try {
      await openAuthority(pki);
    } catch (err) {
      if (!(err instanceof GatehouseError && err.code === 'ERR_PKI_NOT_INITIALIZED')) throw err;
      await caInitCommand(pki);
      caCreated = true;
    }
    const trustDomain = ctx.config.pki.trustDomain;
    const tokens = {} as Record<ServiceName, string>;
    for (const name of services) {
      const spiffeId = serviceSpiffeId(trustDomain, name);
      // A fresh token each start: used only when the service has no valid certificate of its own.
      tokens[name] = (await bootstrapTokenCreateCommand(pki, { spiffeId, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], ttlSeconds: 600 })).token;
    }

    const idp = await ctx.identity();
    const existing = new Map((await userList(idp)).map((u) => [u.username, u]));
    const newPasswords: Record<string, string> = {};
    const users: DemoUser[] = [];
    for (const [username, roles] of Object.entries(DEMO_USERS)) {
      const email = `${username}@secure-mail.test`;
      let user = existing.get(username);
      if (!user) {
        const password = randomBytes(12).toString('base64url');
        user = await userAdd(idp, { username, email, password, roles: [...roles] });
        newPasswords[username] = password;
      }
      users.push({ username, subject: user.id, email: user.email ?? email });
    }
    return { users, newPasswords, tokens, caCreated };
  });
}
