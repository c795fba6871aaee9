/**
 * Loading configuration: read → substitute `${ENV_VAR}` → parse against the schema →
 * cross-field checks → production refusals → deep-freeze. Nothing half-valid escapes:
 * either every problem is reported (each with the path of its key) or a frozen Config is returned.
 */
import { hostname } from 'node:os';
import { LineCounter, parseDocument } from 'yaml';
import { configSchema, type Config } from './schema.ts';
import { GatehouseError } from '../errors.ts';
import { PKI_KEY_ENV } from '../../pki/master-key.ts';
import { yamlKeyProblems } from './yaml-keys.ts';
import { secretFileModeWarnings } from './secret-file-mode.ts';
import { configFileWriters } from './config-file-writers.ts';
import { readConfigText } from './read-config-text.ts';
import { cleartextLinkWarnings } from './cleartext-links.ts';
import { publicCredentialRouteWarnings } from './upstream-credentials-schema.ts';
import { approvalProblems } from './approval-schema.ts';
import { federationAddressProblems } from './federation-address.ts';

export interface ConfigProblem {
  /** Path of the offending key, e.g. ['routes', 2, 'upstream']. */
  path: (string | number)[];
  message: string;
}

/** Thrown by loadConfig/parseConfig; `problems` lists everything that is wrong. */
export class ConfigError extends GatehouseError {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[], source: string) {
    super('ERR_CONFIG_INVALID', { detail: `${source}: ${problems.length} problem(s)\n${formatProblems(problems)}` });
    this.problems = problems;
  }
}

export function formatProblems(problems: ConfigProblem[]): string {
  return problems.map((p) => `  ${p.path.length ? p.path.join('.') : '(root)'}: ${p.message}`).join('\n');
}

/** Development conveniences: each is allowed with a loud warning, and refused in production. */
export interface ConfigWarning { path: (string | number)[]; message: string }

export interface LoadedConfig {
  config: Config;
  warnings: ConfigWarning[];
  /** File it came from, or undefined for built-in defaults. */
  source: string | undefined;
  /** About the file itself (secrets written in a file others can read); warnings in every mode. */
  fileWarnings?: string[];
}

/** Every `${` with what follows it up to the next `}` (or the end): each must be a `${NAME}`. */
const ENV_REF = /\$\{([^}]*)(\}?)/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Replaces `${NAME}` in every string value (never in keys). A variable that is not set or is
 * empty is a problem, and so is any other `${…}`: kept as written, `${KEY:?must be set}` would
 * have become the secret itself.
 */
function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path: (string | number)[], problems: ConfigProblem[], used: Map<string, string>): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_, name: string, close: string) => {
      if (!close || !ENV_NAME.test(name)) {
        problems.push({ path, message: 'a "${" that is not a ${NAME} reference (forms like ${NAME:-default} are not supported; a literal "${" can come from an environment variable)' });
        return '';
      }
      const v = env[name];
      if (v === undefined) { problems.push({ path, message: `environment variable ${name} is not set` }); return ''; }
      if (v === '') { problems.push({ path, message: `environment variable ${name} is empty` }); return ''; }
      used.set(v, name);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, [...path, i], problems, used));
  if (value !== null && typeof value === 'object') {
    // Object.create(null) so a `__proto__` key in the file stays a plain key until refused here:
    // schema maps (headers, role mappings) would drop it without a word.
    const out: Record<string, unknown> = Object.create(null);
    for (const [k, v] of Object.entries(value)) {
      if (k === '__proto__') problems.push({ path: [...path, k], message: 'the key __proto__ is not allowed' });
      else out[k] = substituteEnv(v, env, [...path, k], problems, used);
    }
    return out;
  }
  return value;
}

/**
 * Problem messages go to stderr, the log and the config.rejected audit event, and some quote
 * the value they refuse ("10.0.0.x" is not an IP address). A value that came from the
 * environment is shown as the `${NAME}` it was written as: it is usually a secret, and may
 * have been substituted into the wrong key.
 */
function withoutSubstitutedValues(problems: ConfigProblem[], used: Map<string, string>): ConfigProblem[] {
  // Shorter values would mostly replace ordinary words of the messages; they hide no secret.
  const values = [...used].filter(([v]) => v.length >= 4).sort(([a], [b]) => b.length - a.length);
  if (values.length === 0) return problems;
  return problems.map((p) => ({ path: p.path, message: values.reduce((m, [v, name]) => m.split(v).join(`\${${name}}`), p.message) }));
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export interface ParseOptions {
  env?: NodeJS.ProcessEnv;
  source?: string;
  /** Extra validation run after the schema (e.g. route compilation); returns problems. */
  crossCheck?: (config: Config) => ConfigProblem[];
  /**
   * The mode of the gateway a reload is for. `production`: the file is checked as production
   * whatever it says, and saying `development` is refused (mode changes only on restart).
   */
  runningMode?: Config['mode'];
}

/** Validates an already-parsed document. Throws ConfigError listing every problem. */
export function parseConfig(document: unknown, options: ParseOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const source = options.source ?? '(inline)';
  const problems: ConfigProblem[] = [];
  const used = new Map<string, string>();
  const refuse = (list: ConfigProblem[]) => new ConfigError(withoutSubstitutedValues(list, used), source);
  const substituted = substituteEnv(document ?? {}, env, [], problems, used);
  if (problems.length) throw refuse(problems);

  const result = configSchema.safeParse(substituted);
  if (!result.success) {
    throw refuse(result.error.issues.map((i) => ({
      path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
      // zod names unknown keys in `keys`, at the path of the object that holds them: name them in the message.
      message: i.code === 'unrecognized_keys' ? `unknown key(s): ${i.keys.join(', ')}` : i.message,
    })));
  }
  // NODE_ENV=production is the deployment's word; a file (perhaps copied from a laptop)
  // saying `mode: development` must not lift every production refusal with it.
  const productionEnv = env.NODE_ENV === 'production';
  if (productionEnv && result.data.mode === 'development') {
    problems.push({ path: ['mode'], message: 'development is not allowed when NODE_ENV=production' });
  }
  // A reload must not lift the running gateway's production refusals either: the file's new
  // `mode: development` would otherwise let a plain-HTTP upstream in live, mode itself being
  // restart-only.
  const runningProduction = options.runningMode === 'production';
  if (runningProduction && !productionEnv && result.data.mode !== 'production') {
    problems.push({ path: ['mode'], message: 'the running gateway is in production mode; a reload cannot leave it (mode changes only on restart)' });
  }
  const mode = productionEnv || runningProduction ? 'production' : result.data.mode ?? 'development';
  const config: Config = {
    ...result.data,
    mode,
    instanceId: result.data.instanceId ?? `${hostname()}-${process.pid}`,
    publicUrl: result.data.publicUrl ?? `https://localhost${result.data.listeners.https.port === 443 ? '' : `:${result.data.listeners.https.port}`}`,
  };

  // One without the other would be read as "no certificate" and replaced by a generated one.
  const listenerTls = config.listeners.https.tls;
  if (listenerTls.cert && !listenerTls.key) problems.push({ path: ['listeners', 'https', 'tls', 'key'], message: 'needed with listeners.https.tls.cert' });
  if (listenerTls.key && !listenerTls.cert) problems.push({ path: ['listeners', 'https', 'tls', 'cert'], message: 'needed with listeners.https.tls.key' });
  for (const [name, u] of Object.entries(config.upstreams)) {
    if (new URL(u.url).search) problems.push({ path: ['upstreams', name, 'url'], message: 'must not contain a query string' });
    if (u.tls && !u.url.startsWith('https:')) problems.push({ path: ['upstreams', name, 'tls'], message: 'mutual TLS needs an https:// url' });
    if (u.tls && !config.pki.enabled) problems.push({ path: ['upstreams', name, 'tls'], message: 'mutual TLS needs the built-in CA (pki.enabled)' });
  }
  config.routes.forEach((r, i) => {
    if (!Object.hasOwn(config.upstreams, r.upstream)) problems.push({ path: ['routes', i, 'upstream'], message: `unknown upstream "${r.upstream}"` });
    // A policy named on a route that does not consult policies would be read as protection
    // that is not there: `access: authenticated` lets every signed-in principal through.
    if (r.policy !== undefined && r.access !== 'policy') problems.push({ path: ['routes', i, 'policy'], message: `policy "${r.policy}" is never consulted with access: ${r.access}; set access: policy (or remove policy)` });
    // Nothing is authenticated on a public route, so a step-up there could never be checked.
    if (r.stepUp !== undefined && r.access === 'public') problems.push({ path: ['routes', i, 'stepUp'], message: 'step-up needs an authenticated principal; not possible with access: public' });
  });
  config.routes.forEach((r, i) => { problems.push(...approvalProblems(r, i)); });
  // A mistyped id would leave its route at the default limit without a word.
  const routeIds = new Set(config.routes.map((r) => r.id));
  for (const id of Object.keys(config.ratelimit.identity.routes)) {
    if (!routeIds.has(id)) problems.push({ path: ['ratelimit', 'identity', 'routes', id], message: `no route has the id "${id}"` });
  }
  problems.push(...federationAddressProblems(config));
  if (options.crossCheck) problems.push(...options.crossCheck(config));

  const warnings = developmentConveniences(config, env);
  if (mode === 'production') {
    for (const w of warnings) problems.push({ path: w.path, message: `not allowed in production: ${w.message}` });
  }
  if (problems.length) throw refuse(problems);
  return { config: deepFreeze(config), warnings, source: options.source };
}


/**
 * Settings that are fine on a laptop and dangerous in production. Secrets that would be
 * generated into the data directory are listed too (their components refuse them again at
 * start), so that `config validate` reports what start would refuse.
 */
function developmentConveniences(config: Config, env: NodeJS.ProcessEnv): ConfigWarning[] {
  const w: ConfigWarning[] = [];
  if (config.pki.enabled && config.pki.key === undefined && !env[PKI_KEY_ENV]) {
    w.push({ path: ['pki', 'key'], message: `no CA master key (pki.key or ${PKI_KEY_ENV}): one is generated into the data directory, next to the CA keys it encrypts` });
  }
  const signing = config.identity.signing;
  if (signing.keyEncryptionSecret === undefined && !env[signing.keyEncryptionSecretEnv]) {
    w.push({ path: ['identity', 'signing', 'keyEncryptionSecret'], message: `no key-encryption secret (this key or ${signing.keyEncryptionSecretEnv}): one is generated into the data directory, next to the store it protects` });
  }
  const tls = config.listeners.https.tls;
  if (!tls.cert || !tls.key) w.push({ path: ['listeners', 'https', 'tls'], message: 'no certificate configured: a self-signed localhost certificate is generated' });
  // Upstreams, tracing, the store, Redis, NATS and the audit exports (SQLite is a legitimate
  // single-instance production store: nothing to say about it).
  w.push(...cleartextLinkWarnings(config));
  w.push(...publicCredentialRouteWarnings(config));
  config.authn.issuers.forEach((issuer, i) => {
    if (issuer.principals === 'claims' && issuer.roleMapping === undefined) {
      w.push({ path: ['authn', 'issuers', i, 'roleMapping'], message: `issuer ${issuer.issuer} names its own principals and no roleMapping says which roles it may grant: every role in its tokens is taken, admin included` });
    }
  });
  if (config.identity.enabled && config.identity.mfa.enrollDuringStepUp) {
    w.push({ path: ['identity', 'mfa', 'enrollDuringStepUp'], message: 'a step-up sign-in can be met by enrolling a new TOTP: whoever has only the password of an account without one enrolls an authenticator of their own and passes step-up routes (and decides approvals on them)' });
  }
  for (const [name, p] of Object.entries(config.identity.federation)) {
    if (p.allowInsecureHttp) w.push({ path: ['identity', 'federation', name, 'allowInsecureHttp'], message: 'an external provider reached over plain HTTP (its discovery, keys and token exchange can be altered in transit)' });
  }
  return w;
}

export interface LoadFileOptions extends Omit<ParseOptions, 'source'> {
  /**
   * Refuse a file that holds no document (empty, blank or comments only) instead of reading it
   * as all defaults. Reloads set it: a file that turns empty while Gatehouse runs is a write
   * under way (truncated, not yet written) far more often than a wish for the defaults.
   */
  refuseEmpty?: boolean;
}

/** Reads and validates a YAML or JSON file. */
export async function loadConfigFile(file: string, options: LoadFileOptions = {}): Promise<LoadedConfig> {
  const { refuseEmpty, ...parseOptions } = options;
  let text: string;
  try {
    text = await readConfigText(file);
  } catch (cause) {
    throw new ConfigError([{ path: [], message: `cannot read ${file}: ${(cause as Error).message}` }], file);
  }
  const writers = await configFileWriters(file);
  const lines = new LineCounter();
  const at = (pos: [number, number] | undefined) => {
    const where = pos ? lines.linePos(pos[0]) : undefined;
    return where ? ` at line ${where.line}, column ${where.col}` : '';
  };
  // YAML is a superset of JSON, so one parser serves both, read as plain data: the YAML 1.2
  // core schema whatever a %YAML directive says (1.1 reads `no` as false and merges `<<`),
  // and no tag beyond it (!!set, !!omap, !!binary, !!timestamp build objects that are not
  // plain data; an application tag like !vault would be dropped with only a warning).
  // Duplicate keys are refused. prettyErrors off: its message quotes the lines around the
  // error, and a secret written in the file would go with it into the reload log and the
  // config.rejected event.
  const parsed = parseDocument(text, {
    version: '1.2', schema: 'core', merge: false, resolveKnownTags: false,
    uniqueKeys: true, prettyErrors: false, lineCounter: lines,
  });
  const yamlProblems: ConfigProblem[] = [...parsed.errors, ...parsed.warnings].map((e) => {
    // The tag is not named: an unquoted secret that starts with "!" is read as one.
    const message = e.code === 'TAG_RESOLVE_FAILED' ? 'a tag (only plain YAML 1.2 data is read: no tags; quote a value that starts with "!")'
      : e.code === 'MULTIPLE_DOCS' ? 'more than one document (---) in the file'
      : e.message;
    return { path: [], message: `not valid YAML/JSON: ${message}${at(e.pos)}` };
  });
  const version = parsed.directives?.yaml;
  if (version?.explicit && version.version !== '1.2') {
    yamlProblems.unshift({ path: [], message: `YAML ${version.version} is not read${at([0, 0])}: Gatehouse reads YAML 1.2 (true/false only, no << merge keys); remove the %YAML directive and check such values` });
  }
  // Only on a document that parsed: keys that collide once they are strings, or are not names.
  if (!yamlProblems.length) yamlProblems.push(...yamlKeyProblems(parsed, lines));
  if (yamlProblems.length) throw new ConfigError(yamlProblems, file);
  let document: unknown;
  try {
    document = parsed.toJS({ maxAliasCount: 100 });
  } catch (cause) {
    // yaml names the missing anchor, and an unquoted secret that starts with "*" is read as an alias.
    const reason = (cause as Error).message.startsWith('Unresolved alias')
      ? 'an alias with no anchor before it (quote a value that starts with "*")'
      : (cause as Error).message;
    throw new ConfigError([{ path: [], message: `not valid YAML/JSON: ${reason}` }], file);
  }
  if (refuseEmpty && document == null) {
    throw new ConfigError([{ path: [], message: 'the file is empty (a write under way?); an empty file is refused on reload' }], file);
  }
  // Others able to change the file: a development convenience like the ones parseConfig lists.
  const production = (parseOptions.env ?? process.env).NODE_ENV === 'production'
    || (document !== null && typeof document === 'object' && (document as { mode?: unknown }).mode === 'production');
  const refusals = writers.problems.map((p) => ({ path: p.path, message: `not allowed in production: ${p.message}` }));
  let loaded: LoadedConfig;
  try {
    loaded = parseConfig(document, { ...parseOptions, source: file });
  } catch (err) {
    if (err instanceof ConfigError && production && refusals.length) throw new ConfigError([...refusals, ...err.problems], file);
    throw err;
  }
  if (loaded.config.mode === 'production' && refusals.length) throw new ConfigError(refusals, file);
  const unsafe = writers.problems.map((p) => `${p.message} (refused when NODE_ENV=production)`);
  return { ...loaded, fileWarnings: [...unsafe, ...writers.warnings, ...await secretFileModeWarnings(file, document)] };
}

/** The documented defaults: what an empty configuration file means. */
export function defaultConfig(env: NodeJS.ProcessEnv = {}): Config {
  return parseConfig({}, { env: { ...env, NODE_ENV: 'development' } }).config;
}
