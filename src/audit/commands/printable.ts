/**
 * Text from the database or a file an attacker may have written (chain names, key ids) as a
 * command may print it: control characters, DEL, C1 and U+2028/U+2029 as escapes. Printed raw,
 * a line feed forges a line, and an escape sequence (SGR 8 conceals the text after it,
 * cursor-up and erase-line remove lines) hides what follows on the operator's terminal.
 */
export const printable = (text: string): string =>
  text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => (c < ' ' ? JSON.stringify(c).slice(1, -1) : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
