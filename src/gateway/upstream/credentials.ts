/**
 * Credential isolation: the headers the gateway presents to each upstream on behalf of every
 * client it lets through (`upstreams.<name>.credentials`), resolved once per generation.
 * File-held values are read here, so a reload that finds a changed file (a rotated Kubernetes
 * Secret, say) sends the new value from the new generation on, with no restart.
 *
 * The enrich stage hands them to buildUpstreamHeaders as gatehouse-added headers: a client's
 * own field of the same name is dropped, so a client can neither choose nor add to the
 * credential, and requests refused before enrich (authentication, policy, approval, limits)
 * never carry it. Every value is also registered with the redaction (`secretValues`), so a
 * log line or audit record that quotes one, by accident or from an upstream's error, shows
 * `[REDACTED]` instead.
 */
import { readFileSync, statSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../../core/config/schema.ts';
import { ConfigError, type ConfigProblem } from '../../core/config/load.ts';
import type { UpstreamCredentialsConfig } from '../../core/config/upstream-credentials-schema.ts';
import { credentialValue } from '../../core/config/upstream-credentials-schema.ts';
import type { RedactionConfig } from '../../audit/redact.ts';

export interface UpstreamCredentials {
  /** Upstream name → lower-case header name → value. Upstreams without credentials are absent. */
  readonly headers: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** Every secret string (raw values, passwords, whole header values), for the redaction. */
  readonly secretValues: readonly string[];
  /** Upstream name → its own secret strings, longest first: what its responses must not hand back (dropReflectedCredentials). */
  readonly secretsByUpstream: ReadonlyMap<string, readonly string[]>;
}

export const NO_CREDENTIALS: UpstreamCredentials = { headers: new Map(), secretValues: [], secretsByUpstream: new Map() };

/**
 * Reads a secret file: refused when other users may read or change it (mode o+rwx), as the
 * CA and client keys are; one trailing newline (what `echo` and editors add) is removed.
 * Problems never quote the content.
 */
function readSecretFile(file: string, path: (string | number)[], problems: ConfigProblem[]): string | undefined {
  let content: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) { problems.push({ path, message: `${file} is not a regular file` }); return undefined; }
    if ((st.mode & 0o007) !== 0) {
      problems.push({ path, message: `${file} is accessible to every user of this machine (mode ${(st.mode & 0o777).toString(8)}): chmod o-rwx it (0600 or 0640)` });
      return undefined;
    }
    content = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    problems.push({ path, message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` });
    return undefined;
  }
  // The same checks as a value written in the configuration (no CR/LF/NUL, not empty, not huge).
  const checked = credentialValue.safeParse(content);
  if (!checked.success) {
    problems.push({ path, message: `${file}: ${checked.error.issues[0]?.message ?? 'not a valid header value'}` });
    return undefined;
  }
  return content;
}

function resolveOne(c: UpstreamCredentialsConfig, at: (string | number)[], problems: ConfigProblem[], secrets: string[]): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const set = (name: string, value: string | undefined, ...raw: string[]) => {
    if (value === undefined) return;
    out[name.toLowerCase()] = value;
    secrets.push(value, ...raw);
  };
  for (const [name, value] of Object.entries(c.headers)) set(name, value);
  for (const [name, file] of Object.entries(c.headerFiles)) set(name, readSecretFile(file, [...at, 'headerFiles', name], problems));
  const bearer = c.bearer ?? (c.bearerFile !== undefined ? readSecretFile(c.bearerFile, [...at, 'bearerFile'], problems) : undefined);
  if (bearer !== undefined) set('authorization', `Bearer ${bearer}`, bearer);
  if (c.basic !== undefined) {
    const password = c.basic.password ?? (c.basic.passwordFile !== undefined ? readSecretFile(c.basic.passwordFile, [...at, 'basic', 'passwordFile'], problems) : undefined);
    if (password !== undefined) {
      const token = Buffer.from(`${c.basic.username}:${password}`, 'utf8').toString('base64');
      set('authorization', `Basic ${token}`, password, token);
    }
  }
  return out;
}

/**
 * Resolves every upstream's credentials.
 *
 * @throws ConfigError naming the key of each file that cannot be used (missing, unreadable,
 *   readable by every user, a control character in it); nothing is half-applied.
 */
export function resolveUpstreamCredentials(config: Pick<Config, 'upstreams'>, source = 'configuration'): UpstreamCredentials {
  const headers = new Map<string, Readonly<Record<string, string>>>();
  const secretValues: string[] = [];
  const problems: ConfigProblem[] = [];
  const secretsByUpstream = new Map<string, readonly string[]>();
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    if (upstream.credentials === undefined) continue;
    const own: string[] = [];
    headers.set(name, Object.freeze(resolveOne(upstream.credentials, ['upstreams', name, 'credentials'], problems, own)));
    secretsByUpstream.set(name, [...new Set(own)].sort((a, b) => b.length - a.length));
    secretValues.push(...own);
  }
  if (problems.length) throw new ConfigError(problems, source);
  // Longest first: a value that contains another is replaced whole, not around the shorter one.
  return { headers, secretValues: [...new Set(secretValues)].sort((a, b) => b.length - a.length), secretsByUpstream };
}

/**
 * The gatehouse-added headers of a request to `upstream`: the stages' own (`ctx.upstreamHeaders`)
 * plus the upstream's credentials, which win over a stage's header of the same name.
 */
export function withUpstreamCredentials(stageHeaders: Readonly<Record<string, string>>, credentials: Readonly<Record<string, string>> | undefined): Readonly<Record<string, string>> {
  if (credentials === undefined) return stageHeaders;
  return { ...stageHeaders, ...credentials };
}

/**
 * Removes, in place, every field of an upstream's response head or trailers that would hand
 * the client the credential the gateway presented: a field of a credential header's name (an
 * echo), and any field whose value contains one of the secrets (a debug dump of the request
 * headers, a redirect whose Location carries the key in its query). The field goes whole: an
 * edited value could still leak a part of it. Bodies are not inspected (see
 * docs/credential-isolation.md). Only called for upstreams that have credentials.
 */
export function dropReflectedCredentials(fields: IncomingHttpHeaders, names: Readonly<Record<string, string>>, secrets: readonly string[]): void {
  for (const name in fields) {
    const value = fields[name];
    if (name in names) { delete fields[name]; continue; }
    if (value === undefined) continue;
    const quotes = (v: string) => secrets.some((secret) => v.includes(secret));
    if (typeof value === 'string' ? quotes(value) : value.some(quotes)) delete fields[name];
  }
}

/**
 * `audit.redact` plus one pattern that matches every upstream credential of `config` literally
 * (longest first, so a value that contains another goes whole). For the log and audit
 * redactors, at start and on every reload: a rotated secret is redacted from the reload on.
 * A file that cannot be read here cannot be injected either (the generation refuses it), so
 * its value has nothing to hide.
 */
export function redactionWithCredentials(config: Pick<Config, 'upstreams' | 'audit'>): RedactionConfig {
  let secrets: readonly string[];
  try {
    secrets = resolveUpstreamCredentials(config).secretValues;
  } catch {
    secrets = [];
    for (const u of Object.values(config.upstreams)) {
      const c = u.credentials;
      if (c === undefined) continue;
      secrets = [...secrets, ...Object.values(c.headers), ...(c.bearer !== undefined ? [c.bearer] : []), ...(c.basic?.password !== undefined ? [c.basic.password] : [])];
    }
  }
  const redact = config.audit.redact;
  if (secrets.length === 0) return redact;
  const literal = [...secrets].sort((a, b) => b.length - a.length).map((v) => v.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|');
  return { ...redact, patterns: [...(redact.patterns ?? []), `(?:${literal})`] };
}
