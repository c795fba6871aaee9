/**
 * `gatehouse user add|list|disable|enable|unlock|set-password|reset-mfa`.
 * Passwords never come from arguments: `--password-stdin`, or a generated one shown once.
 */
import type { Command } from 'commander';
import { userAdd, userDisable, userEnable, userList, userResetMfa, userSetPassword, userUnlock, type UserSummary } from '../../identity/commands/index.ts';
import { withCliContext } from '../context.ts';
import { action, emit, formatRecord, formatTable, showSecretOnce, type Column } from '../output.ts';
import { collect, stateful, type StateOptions } from '../options.ts';
import { generatePassword, readSecretFromStdin } from '../secret-input.ts';

const COLUMNS: Column<UserSummary>[] = [
  { header: 'id', value: (u) => u.id },
  { header: 'username', value: (u) => u.username },
  { header: 'email', value: (u) => u.email },
  { header: 'roles', value: (u) => u.roles },
  { header: 'disabled', value: (u) => u.disabled },
  { header: 'mfa', value: (u) => u.mfa },
  { header: 'locked until', value: (u) => u.lockedUntil },
];

function describeUser(u: UserSummary): string {
  return formatRecord(COLUMNS.map((c) => [c.header, c.value(u)] as const));
}

/** A user-changing subcommand that takes `<user>` (name, e-mail or id) and prints the result. */
function userChange(group: Command, name: string, description: string, fn: typeof userDisable): void {
  stateful(group.command(name).argument('<user>', 'user name, e-mail or id').description(description))
    .action(action(async (ref: string, o: StateOptions) => {
      const user = await withCliContext(o, async (ctx) => fn(await ctx.identity(), ref), { action: `user.${name}`, resource: ref, details: { user: ref }, result: (u) => ({ resource: u.id }) });
      emit(o.json, user, () => describeUser(user));
    }));
}

export function registerUser(program: Command): void {
  const user = program.command('user').description('manage user accounts');

  stateful(user.command('add')
    .argument('<username>', 'user name (lower-cased)')
    .description('add a user; the password is read from stdin with --password-stdin, else generated and printed once')
    .option('--email <address>', 'e-mail address (unique)')
    .option('--display-name <name>', 'name shown on pages')
    .option('--role <role>', 'role to grant (repeatable, or comma-separated)', collect)
    .option('--password-stdin', 'read the password from stdin (one line) instead of generating one'))
    .action(action(async (username: string, o: StateOptions & { email?: string; displayName?: string; role?: string[]; passwordStdin?: boolean }) => {
      // Read before opening anything, so a missing password changes nothing.
      const password = o.passwordStdin ? await readSecretFromStdin() : generatePassword();
      const created = await withCliContext(o, async (ctx) => userAdd(await ctx.identity(), {
        username, password,
        ...(o.email ? { email: o.email } : {}), ...(o.displayName ? { displayName: o.displayName } : {}), ...(o.role ? { roles: o.role } : {}),
      }), { action: 'user.add', resource: username, details: { username, roles: o.role ?? [] }, result: (u) => ({ resource: u.id }) });
      const generated = o.passwordStdin ? undefined : password;
      emit(o.json, { user: created, ...(generated ? { password: generated } : {}) }, () => describeUser(created));
      if (generated && !o.json) showSecretOnce('password', generated);
    }));

  stateful(user.command('list').description('list users'))
    .action(action(async (o: StateOptions) => {
      const users = await withCliContext(o, async (ctx) => userList(await ctx.identity()));
      emit(o.json, users, () => formatTable(users, COLUMNS));
    }));

  userChange(user, 'disable', 'disable a user; running instances learn it from the principal.changed event', userDisable);
  userChange(user, 'enable', 'enable a disabled user', userEnable);
  userChange(user, 'unlock', 'lift a brute-force lock and reset the failure counter', userUnlock);

  stateful(user.command('set-password')
    .argument('<user>', 'user name, e-mail or id')
    .description('set a new password: from stdin with --password-stdin, else generated and printed once')
    .option('--password-stdin', 'read the password from stdin (one line) instead of generating one'))
    .action(action(async (ref: string, o: StateOptions & { passwordStdin?: boolean }) => {
      const password = o.passwordStdin ? await readSecretFromStdin() : generatePassword();
      await withCliContext(o, async (ctx) => userSetPassword(await ctx.identity(), ref, password),
        { action: 'user.set-password', resource: ref, details: { user: ref, generated: !o.passwordStdin } });
      const generated = o.passwordStdin ? undefined : password;
      emit(o.json, { user: ref, passwordChanged: true, ...(generated ? { password: generated } : {}) }, () => `password of ${ref} changed`);
      if (generated && !o.json) showSecretOnce('password', generated);
    }));

  stateful(user.command('reset-mfa')
    .argument('<user>', 'user name, e-mail or id')
    .description('remove TOTP and recovery codes; the user enrols again at the next sign-in if MFA is required'))
    .action(action(async (ref: string, o: StateOptions) => {
      await withCliContext(o, async (ctx) => userResetMfa(await ctx.identity(), ref), { action: 'user.reset-mfa', resource: ref, details: { user: ref } });
      emit(o.json, { user: ref, mfaReset: true }, () => `MFA of ${ref} reset`);
    }));
}
