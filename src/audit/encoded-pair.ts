/**
 * `name=value` pairs whose name is percent-encoded (`?tok%65n=…`, `pass%77ord%3D…` inside an
 * encoded return URL): the pair rule of redact.ts matches names as written, and a client (or a
 * link it was sent) that encodes one letter of the name slipped the value past it. Here the name
 * is decoded before it is judged; the text stays as it was, only the value is replaced.
 *
 * Linear, without a backtracking regular expression (every request path comes through here):
 * separators are found left to right, each name is read backwards from its separator but never
 * past the previous separator or redacted value, so no character is looked at twice.
 */

/** `=`, percent-encoded any number of times (the same separators as the pair rule). */
const SEPARATOR = /=|%(?:25)*3D/gi;

/** A value: quoted, or up to a separator (an encoded `&` included). Anchored at the separator's end. */
const VALUE = /"[^"\r\n]*"?|'[^'\r\n]*'?|(?:(?!%(?:25)*26)[^&\s;"',])+/y;

const HEX = /^[0-9A-Fa-f]{2}$/;

/**
 * Levels of percent-encoding a name is decoded through: each level of a nested return URL adds
 * one (`%3D`, `%253D`, `%25253D`…); a name that takes more than this to read is left as written.
 * Each level is one pass over the name, so the bound keeps the work linear.
 */
const MAX_LEVELS = 8;

/** Letters, digits, `_ . -`: what a name is made of once decoded. */
function isPlainNameChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x2e || c === 0x2d;
}

/**
 * Percent escapes decoded, level after level while any is left (the separator may be encoded
 * several times, so may the name: `pass%2577ord%253D`), at most {@link MAX_LEVELS}. Byte by byte:
 * a malformed escape (`%ZZ`, a broken UTF-8 sequence) stays as it is instead of throwing, and only
 * ASCII matters to the name rules.
 */
export function decodeName(name: string): string {
  let out = name;
  for (let level = 0; level < MAX_LEVELS && out.includes('%'); level++) {
    let next = '';
    for (let i = 0; i < out.length; i++) {
      if (out[i] === '%' && HEX.test(out.slice(i + 1, i + 3))) {
        next += String.fromCharCode(Number.parseInt(out.slice(i + 1, i + 3), 16));
        i += 2;
      } else {
        next += out[i];
      }
    }
    // Nothing decoded: no deeper level to read (`%` left only in malformed escapes).
    if (next === out) break;
    out = next;
  }
  return out;
}

/** The name proper: what follows the last character that cannot be part of one (`/cb?token` → `token`). */
function lastName(decoded: string): string {
  let start = decoded.length;
  while (start > 0 && isPlainNameChar(decoded.charCodeAt(start - 1))) start--;
  return decoded.slice(start);
}

/**
 * The text with the value of every pair whose encoded name, decoded, `isSecretName` accepts
 * replaced by `replacement`. Names without a `%` are left to the plain pair rule.
 */
export function redactEncodedPairs(text: string, isSecretName: (name: string) => boolean, replacement: string): string {
  if (!text.includes('%')) return text;
  let out = '';
  let copied = 0;
  // No name starts before this: the end of the previous separator or redacted value.
  let floor = 0;
  SEPARATOR.lastIndex = 0;
  for (let m = SEPARATOR.exec(text); m !== null; m = SEPARATOR.exec(text)) {
    let nameEnd = m.index;
    let valueStart = m.index + m[0].length;
    while (nameEnd > floor && (text[nameEnd - 1] === ' ' || text[nameEnd - 1] === '\t')) nameEnd--;
    let nameStart = nameEnd;
    while (nameStart > floor && (isPlainNameChar(text.charCodeAt(nameStart - 1)) || text[nameStart - 1] === '%')) nameStart--;
    floor = valueStart;
    const name = text.slice(nameStart, nameEnd);
    if (!name.includes('%') || !isSecretName(lastName(decodeName(name)))) continue;
    while (text[valueStart] === ' ' || text[valueStart] === '\t') valueStart++;
    VALUE.lastIndex = valueStart;
    const value = VALUE.exec(text);
    if (value === null) continue;
    out += text.slice(copied, valueStart) + replacement;
    copied = floor = valueStart + value[0].length;
    SEPARATOR.lastIndex = floor;
  }
  return copied === 0 ? text : out + text.slice(copied);
}
