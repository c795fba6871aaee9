/**
 * The `gatehouse` command. Each subcommand lives in its own file under src/cli/commands/;
 * this file only assembles them.
 */
import { Command } from 'commander';
import { registerStart } from './commands/start.ts';
import { registerConfig } from './commands/config.ts';
import { registerUser } from './commands/user.ts';
import { registerClient } from './commands/client.ts';
import { registerToken } from './commands/token.ts';
import { registerKeys } from './commands/keys.ts';
import { registerCa } from './commands/ca.ts';
import { registerCert } from './commands/cert.ts';
import { registerBootstrapToken } from './commands/bootstrap-token.ts';
import { registerPolicy } from './commands/policy.ts';
import { registerAudit, registerAlerts } from './commands/audit.ts';
import { VERSION } from '../core/version.ts';

const program = new Command()
  .name('gatehouse')
  .description('Security gateway, identity provider, policy engine and certificate authority')
  .version(VERSION, '-v, --version')
  .showHelpAfterError();

program.command('version').description('print the version').action(() => { console.log(VERSION); });
registerStart(program);
registerConfig(program);
registerUser(program);
registerClient(program);
registerToken(program);
registerKeys(program);
registerCa(program);
registerCert(program);
registerBootstrapToken(program);
registerPolicy(program);
registerAudit(program);
registerAlerts(program);
(await import('./commands/sidecar.ts')).registerSidecar(program);

await program.parseAsync(process.argv);
