/**
 * Keys of a YAML map as the configuration will see them. YAML keys are typed (1, true, null,
 * a list), a JavaScript object's keys are strings: the parser's duplicate check tells `1`
 * from `"1"` (and `1.0`, `!!str 1`), the conversion to an object does not, and the last one
 * would silently replace the first. Lists, maps and aliases as keys would be turned into
 * strings (with a warning the parser prints on stderr). Both are refused, each at its line.
 */
import { isAlias, isCollection, isPair, isScalar, isSeq, visit, type Document, type LineCounter } from 'yaml';
import type { ConfigProblem } from './load.ts';

/** The object key `toJS` makes of a scalar value (yaml's stringifyKey for non-objects). */
function objectKey(value: unknown): string {
  return value === null || value === undefined ? '' : String(value);
}

/** The configuration path of a map, from the nodes above it: pair keys and sequence indexes. */
function pathOf(ancestors: readonly unknown[], node: unknown): (string | number)[] {
  const path: (string | number)[] = [];
  const chain = [...ancestors, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const here = chain[i];
    if (isPair(here)) path.push(isScalar(here.key) ? objectKey(here.key.value) : '?');
    else if (isSeq(here)) path.push(here.items.indexOf(chain[i + 1] as never));
  }
  return path;
}

/** Problems with the keys of every map of the document; empty when each key is a distinct plain scalar. */
export function yamlKeyProblems(doc: Document, lines: LineCounter): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const at = (range: readonly number[] | null | undefined) => {
    if (!range) return '';
    const { line, col } = lines.linePos(range[0]!);
    return ` at line ${line}, column ${col}`;
  };
  visit(doc, {
    Map(_, map, ancestors) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        const key = pair.key as unknown;
        if (isCollection(key) || isAlias(key)) {
          problems.push({ path: pathOf(ancestors, map), message: `a key must be a plain name, not a list, map or alias${at(key.range)}` });
          continue;
        }
        const name = objectKey(isScalar(key) ? key.value : key);
        if (seen.has(name)) {
          // The name, not the value: a key is never a secret, but keep it short.
          problems.push({ path: pathOf(ancestors, map), message: `duplicate key ${JSON.stringify(name.slice(0, 64))} (written differently, read as the same name)${at(isScalar(key) ? key.range : undefined)}` });
        }
        seen.add(name);
      }
    },
  });
  return problems;
}
