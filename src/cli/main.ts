/**
 * The `gatehouse` command. Each command group lives in its own file under src/cli/commands/;
 * this file only assembles them. Only the group being run is imported (every group pulls in
 * its area: identity, PKI, audit…), so `gatehouse version` does not load the CA and a
 * `user add` does not load the gateway; `--help` and unknown commands load them all.
 */
import { Command } from 'commander';
import { VERSION } from '../core/version.ts';
import { enableGatehouseCompileCache } from './compile-cache.ts';

enableGatehouseCompileCache();

type Register = (program: Command) => void;

/** Command name → loader of the module that registers it (several names may share a module). */
const GROUPS: Record<string, () => Promise<Register>> = {
  start: async () => (await import('./commands/start.ts')).registerStart,
  config: async () => (await import('./commands/config.ts')).registerConfig,
  user: async () => (await import('./commands/user.ts')).registerUser,
  client: async () => (await import('./commands/client.ts')).registerClient,
  token: async () => (await import('./commands/token.ts')).registerToken,
  keys: async () => (await import('./commands/keys.ts')).registerKeys,
  ca: async () => (await import('./commands/ca.ts')).registerCa,
  cert: async () => (await import('./commands/cert.ts')).registerCert,
  'bootstrap-token': async () => (await import('./commands/bootstrap-token.ts')).registerBootstrapToken,
  policy: async () => (await import('./commands/policy.ts')).registerPolicy,
  audit: async () => (await import('./commands/audit.ts')).registerAudit,
  alerts: async () => (await import('./commands/audit.ts')).registerAlerts,
  sidecar: async () => (await import('./commands/sidecar.ts')).registerSidecar,
  approvals: async () => (await import('./commands/approvals.ts')).registerApprovals,
};

const program = new Command()
  .name('gatehouse')
  .description('Security gateway, identity provider, policy engine and certificate authority')
  .version(VERSION, '-v, --version')
  .showHelpAfterError();

program.command('version').description('print the version').action(() => { console.log(VERSION); });

const invoked = process.argv[2];
if (invoked !== undefined && Object.hasOwn(GROUPS, invoked)) {
  (await GROUPS[invoked]!())(program);
} else if (invoked !== 'version') {
  for (const load of Object.values(GROUPS)) (await load())(program);
}

await program.parseAsync(process.argv);
