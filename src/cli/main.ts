/**
 * The `gatehouse` command. Each subcommand lives in its own file under src/cli/commands/;
 * this file only assembles them.
 */
import { Command } from 'commander';
import { registerStart } from './commands/start.ts';
import { registerConfig } from './commands/config.ts';
import { VERSION } from '../core/version.ts';

const program = new Command()
  .name('gatehouse')
  .description('Security gateway, identity provider, policy engine and certificate authority')
  .version(VERSION, '-v, --version')
  .showHelpAfterError();

program.command('version').description('print the version').action(() => { console.log(VERSION); });
registerStart(program);
registerConfig(program);

await program.parseAsync(process.argv);
