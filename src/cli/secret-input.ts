/**
 * Passwords for `user add` and `user set-password`. They are never taken from the command
 * line (shell history, `ps`, audit of exec arguments would all keep them): either piped on
 * stdin with `--password-stdin`, or generated here and shown once.
 */
import { randomBytes } from 'node:crypto';
import { GatehouseError } from '../core/errors.ts';

/** The identity provider accepts at most 1024 characters; a little more covers a UTF-8 tail. */
const MAX_STDIN_BYTES = 8192;

/**
 * Reads a secret from `input` until end of file. One trailing line break (`\n` or `\r\n`,
 * what `echo` and here-strings add) is removed; nothing else is trimmed, so leading or
 * trailing spaces stay part of the password.
 */
export async function readSecretFromStdin(input: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > MAX_STDIN_BYTES) throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: `Password on stdin is longer than ${MAX_STDIN_BYTES} bytes` });
    chunks.push(buf);
  }
  const all = Buffer.concat(chunks);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(all);
  } catch {
    throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: 'Password on stdin is not valid UTF-8' });
  } finally {
    all.fill(0);
    for (const c of chunks) c.fill(0);
  }
  text = text.replace(/\r?\n$/, '');
  if (text.length === 0) throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: 'No password on stdin' });
  if (/[\r\n]/.test(text)) throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: 'Password on stdin must be one line' });
  return text;
}

/** A random password: 144 bits, 24 URL-safe characters (well within the 12–1024 length rule). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
