/**
 * How `gatehouse` commands print: aligned tables (or `key: value` blocks) for people,
 * `--json` for scripts, and one uniform way of reporting failure (message on stderr,
 * exit code 1). Command output goes to stdout; diagnostics and logs to stderr.
 */
import { ConfigError, formatProblems } from '../core/config/load.ts';
import { isGatehouseError } from '../core/errors.ts';

/** A column of a table: the header and how to get the cell from a row. */
export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

/** Renders one cell: lists comma-separated, absent values as `-`. */
export function cell(value: unknown): string {
  if (value === undefined || value === null || value === '') return '-';
  if (Array.isArray(value)) return value.length ? value.map(cell).join(',') : '-';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  // Control characters from stored data must not rewrite the operator's terminal, and
  // bidirectional overrides must not make a stored name read as another (`\u202eexe.txt`).
  return String(value).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '?');
}

/**
 * JSON that a terminal shows as it is: JSON.stringify leaves DEL, the C1 controls (U+009B is
 * CSI to many terminals), line separators and bidirectional overrides as raw characters, so
 * attacker-typed values in `--json` output could still drive the operator's terminal. They are
 * written as `\uXXXX` escapes, which parse back to the same values.
 */
export function terminalSafeJson(data: unknown, indent?: number): string {
  return JSON.stringify(data, null, indent).replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Multi-line text from stored data (a request body an approver reads) as lines a terminal shows
 * as they are: split at line feeds, every other control character, DEL, the C1 controls, line
 * separators and bidirectional overrides written as visible escapes (`\r`, `\t`, `\u001b`,
 * `\u202e`). `cell` would turn them into `?`, losing what was sent; printed raw, an escape
 * sequence rewrites or hides lines on the operator's terminal (SGR 8 conceals, cursor-up and
 * erase-line remove what was printed above) and a carriage return overwrites a line.
 */
export function printableLines(text: string): string[] {
  return text.split('\n').map((line) => line.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const short = ({ '\r': '\\r', '\t': '\\t' } as Record<string, string>)[c];
    return short ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  }));
}

/** An aligned text table with a header line; `(none)` when there are no rows. */
export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((r) => columns.map((c) => cell(c.value(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join('\n');
}

/** `key: value` lines for one record, keys aligned. */
export function formatRecord(entries: readonly (readonly [string, unknown])[]): string {
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${cell(v)}`).join('\n');
}

/** Prints `data` as JSON when `json` is set, else the human form. */
export function emit(json: boolean | undefined, data: unknown, human: () => string): void {
  process.stdout.write(`${json ? terminalSafeJson(data, 2) : human()}\n`);
}

/**
 * Prints a secret that exists only now (generated password, client secret, API token).
 * Goes to stdout only — never to a logger — with a reminder that it is not stored.
 */
export function showSecretOnce(label: string, secret: string): void {
  process.stdout.write(`\n${label} (shown once; it is not stored and cannot be shown again):\n${secret}\n`);
}

/** Prints why the command failed, on stderr, and sets exit code 1. */
export function reportFailure(err: unknown, verbose = false): void {
  process.exitCode = 1;
  if (err instanceof ConfigError) {
    // The code first, as for every other failure: scripts and docs/errors.md key on it.
    process.stderr.write(`error ${err.code}: configuration refused: ${err.problems.length} problem(s)\n${formatProblems(err.problems)}\n`);
    return;
  }
  if (isGatehouseError(err)) {
    // The operator is entitled to the detail (it is what the log would say); it never holds secrets.
    const detail = err.detail && err.detail !== err.publicMessage ? ` (${err.detail})` : '';
    process.stderr.write(`error ${err.code}: ${err.publicMessage}${detail}\n`);
  } else {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
}

/**
 * Wraps a commander action so that every failure is reported the same way (exit code 1,
 * message on stderr) instead of an unhandled rejection with a stack trace.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      const verbose = args.some((a) => typeof a === 'object' && a !== null && (a as { verbose?: unknown }).verbose === true);
      reportFailure(err, verbose);
    }
  };
}
