/** `gatehouse bootstrap-token create` — a one-time token with which a workload obtains its first certificate. */
import type { Command } from 'commander';
import { bootstrapTokenCreateCommand } from '../../pki/commands/index.ts';
import { withCliContext } from '../context.ts';
import { action, emit, formatRecord, showSecretOnce } from '../output.ts';
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
}
