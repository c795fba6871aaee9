/** `gatehouse bootstrap-token create|list|revoke` — one-time tokens with which a workload obtains its first certificate. */
import type { Command } from 'commander';
import { bootstrapTokenCreateCommand, bootstrapTokenListCommand, bootstrapTokenRevokeCommand, type BootstrapTokenListRow } from '../../pki/commands/index.ts';
import { withCliContext } from '../context.ts';
import { action, emit, formatRecord, formatTable, showSecretOnce } from '../output.ts';
import { collect, positiveInt, stateful, type StateOptions } from '../options.ts';

export function registerBootstrapToken(program: Command): void {
  const group = program.command('bootstrap-token').description('one-time tokens for a workload\'s first certificate');

  stateful(group.command('create')
    .description('create a one-time bootstrap token bound to one SPIFFE id; the token is printed once')
    .requiredOption('--id <spiffe-id>', 'identity the certificate will name, spiffe://<trust domain>/<kind>/<name>')
    .option('--dns <name>', 'DNS name the workload may ask for (repeatable)', collect)
    .option('--ip <address>', 'IP address the workload may ask for (repeatable)', collect)
    .option('--ttl <seconds>', 'lifetime of the token (default pki.bootstrapTokenTtlSeconds)', positiveInt))
    .action(action(async (o: StateOptions & { id: string; dns?: string[]; ip?: string[]; ttl?: number }) => {
      const t = await withCliContext(o, async (ctx) => bootstrapTokenCreateCommand(await ctx.pki(), {
        spiffeId: o.id, ...(o.dns ? { dnsNames: o.dns } : {}), ...(o.ip ? { ipAddresses: o.ip } : {}), ...(o.ttl ? { ttlSeconds: o.ttl } : {}),
      }), { action: 'bootstrap-token.create', resource: o.id, details: { spiffeId: o.id, dns: o.dns ?? [], ip: o.ip ?? [], ttlSeconds: o.ttl }, result: (t) => ({ details: { id: t.id } }) });
      const expiresAt = t.expiresAt.toISOString();
      emit(o.json, { id: t.id, token: t.token, spiffeId: t.spiffeId, expiresAt }, () => formatRecord([['token id', t.id], ['spiffe id', t.spiffeId], ['expires', expiresAt]]));
      if (!o.json) showSecretOnce('bootstrap token', t.token);
    }));

  stateful(group.command('list')
    .description('bootstrap tokens, newest first, with status (unused, used, expired); never the token, and revoked ones are gone')
    .option('--id <spiffe-id>', 'only this identity')
    .option('--limit <n>', 'at most this many (default 100)', positiveInt))
    .action(action(async (o: StateOptions & { id?: string; limit?: number }) => {
      const rows = await withCliContext(o, async (ctx) => bootstrapTokenListCommand(await ctx.pki(), { ...(o.id ? { spiffeId: o.id } : {}), ...(o.limit ? { limit: o.limit } : {}) }));
      emit(o.json, rows, () => formatTable(rows, LIST_COLUMNS));
    }));

  stateful(group.command('revoke')
    .argument('<id>', 'token id, as shown by `bootstrap-token create` and `bootstrap-token list`; one starting with "-" (made before ids avoided it) goes after `--`')
    .description('revoke an unused bootstrap token: an issuance presenting it is refused from now on'))
    .action(action(async (id: string, o: StateOptions) => {
      const r = await withCliContext(o, async (ctx) => bootstrapTokenRevokeCommand(await ctx.pki(), id),
        { action: 'bootstrap-token.revoke', resource: id, result: (v) => ({ details: { spiffeId: v.spiffeId } }) });
      emit(o.json, { ...r, revoked: true }, () => `bootstrap token ${r.id} (${r.spiffeId}) revoked`);
    }));
}

const LIST_COLUMNS = [
  { header: 'token id', value: (r: BootstrapTokenListRow) => r.id },
  { header: 'spiffe id', value: (r: BootstrapTokenListRow) => r.spiffeId },
  { header: 'names', value: (r: BootstrapTokenListRow) => [...r.dnsNames, ...r.ipAddresses] },
  { header: 'status', value: (r: BootstrapTokenListRow) => r.status },
  { header: 'expires', value: (r: BootstrapTokenListRow) => r.expiresAt },
  { header: 'used', value: (r: BootstrapTokenListRow) => r.usedAt },
];
