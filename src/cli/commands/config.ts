/** `gatehouse config validate FILE` and `gatehouse config defaults`. */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { loadConfigFile, formatProblems, ConfigError, defaultConfig } from '../../core/config/load.ts';
import { compileCheck } from '../../core/config/compile-check.ts';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('validate or print configuration');

  config.command('validate')
    .argument('<file>', 'YAML or JSON configuration file')
    .description('validate a configuration file; exits 1 and lists every problem by key path')
    .action(async (file: string) => {
      try {
        const loaded = await loadConfigFile(file, { crossCheck: compileCheck });
        for (const w of loaded.warnings) console.log(`warning: ${w.path.join('.')}: ${w.message} (development only)`);
        for (const w of loaded.fileWarnings ?? []) console.log(`warning: ${w}`);
        console.log(`${file}: valid (${loaded.config.routes.length} routes, mode ${loaded.config.mode})`);
      } catch (err) {
        if (err instanceof ConfigError) {
          console.error(`error ${err.code}: ${file}: ${err.problems.length} problem(s)\n${formatProblems(err.problems)}`);
          process.exitCode = 1;
          return;
        }
        throw err;
      }
    });

  config.command('defaults')
    .description('print the default configuration (what an empty file means)')
    .action(() => {
      const { instanceId: _i, publicUrl: _p, mode: _m, ...rest } = defaultConfig();
      process.stdout.write('# Gatehouse default configuration (docs/configuration.md explains every key)\n' + stringify(rest));
    });
}
