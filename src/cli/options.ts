/** Options shared by the `gatehouse` command groups, declared once so every command spells them alike. */
import { InvalidArgumentError, type Command } from 'commander';

/** Options of a command that reads configuration (and usually opens the store and the bus). */
export interface StateOptions {
  config?: string;
  verbose?: boolean;
  json?: boolean;
}

/** Adds `--config FILE`, `--verbose` and `--json`. */
export function stateful(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'configuration file (default: ./gatehouse.yaml if present, else built-in defaults)')
    .option('--json', 'print JSON instead of a table')
    .option('--verbose', 'debug logs on stderr');
}

/** Repeatable option value, also accepting comma-separated lists: `--role a --role b,c`. */
export function collect(value: string, previous: string[] | undefined): string[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  return [...(previous ?? []), ...items];
}

/** Parses a positive integer option (commander reports the error and exits 1). */
export function positiveInt(value: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(value)) throw new InvalidArgumentError('must be a positive integer');
  return Number(value);
}
