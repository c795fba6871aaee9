/**
 * Markdown helpers for result tables, and rewriting one marked block of BENCHMARKS.md.
 */

/** A GitHub-flavoured markdown table; `|` inside cells is escaped. */
export function table(headers: string[], rows: string[][]): string {
  const escape = (cell: string): string => cell.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const line = (cells: string[]): string => `| ${cells.map(escape).join(' | ')} |`;
  const align = headers.map((_, index) => (index === 0 ? '---' : '---:'));
  return [line(headers), `| ${align.join(' | ')} |`, ...rows.map(line)].join('\n');
}

/** A number with `digits` decimals (default: 2) and thousands separated by commas. */
export function fixed(value: number, digits = 2): string {
  const [whole = '0', fraction] = value.toFixed(digits).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

/** The HTML comment that opens section `name`'s block in BENCHMARKS.md. */
export function startMarker(name: string): string {
  return `<!-- bench:${name}:start -->`;
}

/** The HTML comment that closes section `name`'s block in BENCHMARKS.md. */
export function endMarker(name: string): string {
  return `<!-- bench:${name}:end -->`;
}

/**
 * Replaces the text between the markers of block `name` with `body`. A missing block is
 * appended at the end, so that a new section shows up without editing BENCHMARKS.md by hand.
 */
export function replaceBlock(document: string, name: string, body: string): string {
  const start = startMarker(name);
  const end = endMarker(name);
  const from = document.indexOf(start);
  const to = document.indexOf(end);
  const block = `${start}\n${body.trim()}\n${end}`;
  if (from === -1 || to === -1 || to < from) return `${document.trimEnd()}\n\n${block}\n`;
  return `${document.slice(0, from)}${block}${document.slice(to + end.length)}`;
}
