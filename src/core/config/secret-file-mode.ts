/**
 * A configuration file that holds secrets written in it, and that its group or other users of
 * the machine can read, gives those secrets to them. Only a warning: a Kubernetes Secret
 * volume is 0644 unless told otherwise, in a container where no other user runs. The warning
 * names keys, never values; a secret written as `${ENV_VAR}` is not in the file.
 */
import { stat } from 'node:fs/promises';

type Tree = Record<string, unknown>;

function child(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, key) ? (value as Tree)[key] : undefined;
}

function entries(value: unknown): [string, unknown][] {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.entries(value) : [];
}

/** Written in the file: a non-empty string with no `${NAME}` reference in it. */
function literal(value: unknown): boolean {
  return typeof value === 'string' && value !== '' && !value.includes('${');
}

/** A URL whose password (scheme://user:password@host) is written in the file. */
function literalUrlPassword(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const password = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/@?#]*?:([^/@?#]+)@/.exec(value)?.[1];
  return literal(password);
}

/**
 * A proxy URL whose credentials are written in the file: its password, or a user name that goes
 * without one (`http://TOKEN@proxy`, sent as `Basic TOKEN:`), where the user name is the secret.
 */
function literalProxyCredentials(value: unknown): boolean {
  if (literalUrlPassword(value)) return true;
  if (typeof value !== 'string') return false;
  const user = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/@?#:]+):?@/.exec(value)?.[1];
  return literal(user);
}

/** Paths of the secret-holding keys of the raw (not yet substituted) document whose value is written in the file. */
export function literalSecretPaths(document: unknown): string[] {
  const paths: string[] = [];
  const at = (...keys: string[]) => keys.reduce<unknown>((v, k) => child(v, k), document);
  if (literal(at('pki', 'key'))) paths.push('pki.key');
  if (literal(at('identity', 'signing', 'keyEncryptionSecret'))) paths.push('identity.signing.keyEncryptionSecret');
  if (literal(at('authn', 'login', 'clientSecret'))) paths.push('authn.login.clientSecret');
  for (const [name, provider] of entries(at('identity', 'federation'))) {
    if (literal(child(provider, 'clientSecret'))) paths.push(`identity.federation.${name}.clientSecret`);
    if (literalProxyCredentials(child(provider, 'proxy'))) paths.push(`identity.federation.${name}.proxy`);
  }
  for (const [name, value] of entries(at('tracing', 'headers'))) if (literal(value)) paths.push(`tracing.headers.${name}`);
  for (const [name, value] of entries(at('audit', 'export', 'otlp', 'headers'))) if (literal(value)) paths.push(`audit.export.otlp.headers.${name}`);
  for (const [name, upstream] of entries(at('upstreams'))) {
    const c = child(upstream, 'credentials');
    for (const [header, value] of entries(child(c, 'headers'))) if (literal(value)) paths.push(`upstreams.${name}.credentials.headers.${header}`);
    if (literal(child(c, 'bearer'))) paths.push(`upstreams.${name}.credentials.bearer`);
    if (literal(child(child(c, 'basic'), 'password'))) paths.push(`upstreams.${name}.credentials.basic.password`);
  }
  for (const keys of [['store', 'url'], ['ratelimit', 'url'], ['bus', 'url'], ['tracing', 'endpoint'], ['audit', 'export', 'otlp', 'url']]) {
    if (literalUrlPassword(at(...keys))) paths.push(keys.join('.'));
  }
  return paths;
}

/** The warning for `file`, or undefined when it holds no written secret or only its owner can read it. */
export async function secretFileModeWarnings(file: string, document: unknown): Promise<string[]> {
  const paths = literalSecretPaths(document);
  if (paths.length === 0) return [];
  let mode: number;
  try {
    mode = (await stat(file)).mode;
  } catch {
    return []; // just read; gone since (a reload's rename): nothing to say about it
  }
  if ((mode & 0o044) === 0) return [];
  const who = (mode & 0o004) !== 0 ? 'every user of this machine' : 'its group';
  return [`${file} is readable by ${who} (mode ${(mode & 0o777).toString(8)}) and holds secrets written in it (${paths.join(', ')}): chmod 600 it, or write them as \${ENV_VAR}`];
}
