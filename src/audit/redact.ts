/**
 * Redaction: the one set of rules that runs before anything is stored in the audit log
 * or written to a log line. Two kinds of rule:
 *
 *   - keys: a value under a secret-looking key (authorization, cookie, token, password,
 *     secret, api key, private key, credential, session, otp…, also as a person reads the
 *     name: key-fold.ts) is replaced whole, at any depth, whatever its type;
 *   - patterns: secrets recognizable by their shape are cut out of every string, under
 *     any key: JWTs, `Bearer`/`Basic`/`DPoP` credentials, `ghs_` API tokens, PEM private
 *     keys, URL userinfo passwords, `token=`/`password=`/… pairs in query strings and
 *     form bodies (names percent-encoded too: `tok%65n=`, encoded-pair.ts), credential header
 *     lines, and `password: x` in free text (secret-patterns.ts).
 *
 * Header lists (`rawHeaders`, `[name, value]` and `{ name, value }` entries) are judged by the
 * name next to each value, so a repeated `Set-Cookie` or token header loses every value.
 *
 * Both lists grow from configuration (`audit.redact.keys`, `audit.redact.patterns`).
 * Redaction never mutates its input and never throws on odd input (cycles, getters,
 * `__proto__` keys): it fails closed by replacing what it cannot walk.
 */
import { stdSerializers } from 'pino';
import { decodeName, redactEncodedPairs } from './encoded-pair.ts';
import { foldKey } from './key-fold.ts';
import { COLON_PAIR, DEFAULT_PATTERNS, HEADER_LINE, HEADER_NAME, isSecretPairName, JSON_MEMBER, NEEDS, PAIR } from './secret-patterns.ts';

/** What replaces a secret. */
export const REDACTED = '[REDACTED]';

// Short names are anchored (`^auth$`, not `auth`: authMethod and author are not secrets).
const DEFAULT_SECRET_KEY = /authori[sz]ation|cookie|token|passw(or)?d|passphrase|secret|api[-_]?key|private[-_]?key|credential|session|sess[-_]?id|^otp$|totp|recovery[-_]?code|code[-_]?verifier|assertion|^dpop$|x-gatehouse-identity|signature|^sig$|^key$|bearer|^pwd$|^pass$|^(x-)?auth$|^sid$|jwt$|access[-_]?key$/i;

/**
 * The same rules for a key as a person reads it (key-fold.ts: `Pass-Word`, `pass_word`, `pаssword` with a
 * Cyrillic `а`, `ｐａｓｓｗｏｒｄ`, `pass\u200Bword` are all `password`): separators are gone from that form.
 */
const FOLDED_SECRET_KEY = new RegExp(DEFAULT_SECRET_KEY.source.replaceAll('[-_]?', '').replaceAll('-', ''), 'i');
/** Whether a key needs its folded form judged too: separators, or characters beyond ASCII. */
const FOLDABLE = /[\s_.\-]|[^\x00-\x7f]/;

/** A verdict per key name: a record has a dozen keys, nearly all of them seen on every request. */
const KEY_CACHE_SIZE = 2048;
const KEY_CACHE_MAX_LENGTH = 64;

/**
 * Keys that look secret by name but carry only a kind or an identifier meant for audit.
 * `refusedCredential` is 16 hex digits of a SHA-256 (src/authn/refused-credential.ts): replaced,
 * a record could not say which credential was tried from where.
 */
const NON_SECRET_KEYS = new Set(['tokenKind', 'tokenType', 'token_type', 'tokenId', 'tokenEndpoint', 'token_endpoint', 'sessionCount', 'refusedCredential']);
const NON_SECRET_FOLDED = new Set([...NON_SECRET_KEYS].map(foldKey));

export interface RedactionConfig {
  /** Extra key patterns (regular expression sources, case-insensitive). */
  keys?: readonly string[];
  /** Extra value patterns (regular expression sources); every match in a string is replaced. */
  patterns?: readonly string[];
}

/** Compiled redaction rules. */
export interface Redactor {
  /** A redacted deep copy of a JSON-like value. */
  value(value: unknown): unknown;
  /** The string with every secret-shaped part replaced. */
  string(text: string): string;
  /** Whether a value under this key is replaced whole. */
  isSecretKey(key: string): boolean;
  /**
   * For pino's `formatters.log`: returns the redacted log object (errors are serialized
   * first, so their messages and stacks are redacted too).
   *
   * @example
   *   pino({ formatters: { log: createRedactor(config.audit.redact).logFormatter } })
   *   (with {@link logMethod} as `hooks.logMethod`, for the message)
   */
  logFormatter(object: Record<string, unknown>): Record<string, unknown>;
  /**
   * For pino's `hooks.logMethod`: pino hands `formatters.log` everything but the message, so
   * a secret interpolated into the message (`logger.warn(\`cannot reach ${url}\`)`) or into its
   * `%s`/`%o` arguments went out as written. This redacts those before pino formats them.
   *
   * @example
   *   pino({ formatters: { log: redactor.logFormatter }, hooks: { logMethod: redactor.logMethod } })
   */
  logMethod(this: unknown, args: unknown[], method: (...args: unknown[]) => void): void;
}

const MAX_DEPTH = 16;

/** Builds the redactor; invalid patterns from config are refused by the config schema. */
export function createRedactor(config: RedactionConfig = {}): Redactor {
  const extraKeys = (config.keys ?? []).map((k) => new RegExp(k, 'i'));
  const patterns = [...DEFAULT_PATTERNS, ...(config.patterns ?? []).map((p) => new RegExp(p, 'g'))];

  const isSecretKeyAsWritten = (key: string): boolean => {
    if (NON_SECRET_KEYS.has(key)) return false;
    if (DEFAULT_SECRET_KEY.test(key)) return true;
    for (const re of extraKeys) if (re.test(key)) return true;
    return false;
  };
  const isSecretKeyFolded = (folded: string): boolean => {
    if (FOLDED_SECRET_KEY.test(folded)) return true;
    for (const re of extraKeys) if (re.test(folded)) return true;
    return false;
  };
  // A key written with percent escapes (`tok%65n`, from a query string parsed but not decoded) is judged decoded too,
  // and one with separators or characters beyond ASCII as a person reads it (key-fold.ts): `token_kind` is
  // `tokenKind`, not a secret, and `pass_word` is a password.
  const judge = (key: string): boolean => {
    const folded = FOLDABLE.test(key) ? foldKey(key) : undefined;
    if (folded !== undefined && NON_SECRET_FOLDED.has(folded)) return false;
    return isSecretKeyAsWritten(key)
      || (key.includes('%') && isSecretKeyAsWritten(decodeName(key)))
      || (folded !== undefined && isSecretKeyFolded(folded));
  };
  const verdicts = new Map<string, boolean>();
  const isSecretKey = (key: string): boolean => {
    if (key.length > KEY_CACHE_MAX_LENGTH) return judge(key);
    let v = verdicts.get(key);
    if (v === undefined) {
      // Cleared when full: names a client invents (JSON body keys, header names) must not grow it without bound.
      if (verdicts.size >= KEY_CACHE_SIZE) verdicts.clear();
      v = judge(key);
      verdicts.set(key, v);
    }
    return v;
  };

  /** A JSON member name as JSON text wrote it: `\u0074oken` is `token`. */
  const isSecretJsonName = (name: string): boolean => {
    if (isSecretKey(name)) return true;
    if (!name.includes('\\')) return false;
    try {
      return isSecretKey(JSON.parse(`"${name}"`) as string);
    } catch {
      return false;
    }
  };

  // Names are kept (a pair's, a header's, a JSON member's), so the record still says *what* was there.
  const replacer = (re: RegExp) => {
    if (re === PAIR) return (_m: string, name: string, sep: string) => `${name}${sep}${REDACTED}`;
    if (re === HEADER_LINE) return (_m: string, name: string) => `${name}: ${REDACTED}`;
    // A name that only looks secret (`tokenType: Bearer`, `urn:…:token-type:jwt`) keeps its value, as the key does.
    if (re === COLON_PAIR) {
      return (m: string, name: string, sep: string, dq?: string, sq?: string) => {
        if (NON_SECRET_FOLDED.has(foldKey(name))) return m;
        const q = dq ?? sq ?? '';
        return `${name}${sep}${q}${REDACTED}${q}`;
      };
    }
    if (re === JSON_MEMBER) return (m: string, name: string, sep: string) => (isSecretJsonName(name) ? `"${name}"${sep}"${REDACTED}"` : m);
    return () => REDACTED;
  };
  const replacers = new Map(patterns.map((re) => [re, replacer(re)]));

  const string = (text: string): string => {
    let out = text;
    for (const re of patterns) {
      const needs = NEEDS.get(re);
      if (needs !== undefined && !needs(out)) continue;
      re.lastIndex = 0;
      if (re.test(out)) {
        re.lastIndex = 0;
        out = out.replace(re, replacers.get(re)!);
      }
    }
    return redactEncodedPairs(out, isSecretPairName, REDACTED);
  };

  /** A value that would be replaced under a secret key (empty ones say nothing and stay). */
  const secretValue = (v: unknown): boolean => v !== undefined && v !== null && v !== '';

  /**
   * A header list (`['Set-Cookie', 'a', 'Set-Cookie', 'b', 'X-Upstream-Token', 't']`, or one
   * `[name, value]` entry): the values after secret names are replaced one by one, the names and
   * the other values stay. Every even element must look like a header name, so ordinary lists
   * of words are rarely taken for one (and then only lose values after secret-looking words).
   */
  const headerList = (list: unknown[], depth: number, seen: Set<object>): unknown[] | undefined => {
    if (list.length < 2 || list.length % 2 !== 0) return undefined;
    for (let i = 0; i < list.length; i += 2) {
      const name = list[i];
      if (typeof name !== 'string' || !HEADER_NAME.test(name)) return undefined;
    }
    return list.map((v, i) => (i % 2 === 1 && isSecretKey(list[i - 1] as string) && secretValue(v) ? REDACTED : walk(v, depth + 1, seen)));
  };

  const walk = (value: unknown, depth: number, seen: Set<object>): unknown => {
    if (typeof value === 'string') return string(value);
    if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? value.toString() : value;
    if (depth > MAX_DEPTH || seen.has(value)) return REDACTED;
    seen.add(value);
    try {
      if (Array.isArray(value)) return headerList(value, depth, seen) ?? value.map((v) => walk(v, depth + 1, seen));
      if (value instanceof Error) return walk(stdSerializers.err(value), depth + 1, seen);
      if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
      // Own enumerable keys are all that is copied below, and a Date or URL has none: a
      // certificate's notAfter was logged as {}. Their text, as JSON.stringify would write it
      // (a URL's text redacted like any string: it may carry a password or a token).
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
      if (value instanceof URL) return string(value.href);
      const out: Record<string, unknown> = {};
      const keys = Object.keys(value);
      const entry = keys.includes('value') ? entryName(value as Record<string, unknown>, keys) : undefined;
      for (const key of keys) {
        let v: unknown;
        try {
          v = (value as Record<string, unknown>)[key];
        } catch {
          v = REDACTED;
        }
        // A `{ name, value }` entry (HAR headers, cookie jars) or `{ key, value }` attribute (OTLP): the name says whether the value is secret.
        const secret = isSecretKey(key) || (key === 'value' && entry !== undefined && isSecretKey(entry));
        // defineProperty: a `__proto__` key stays an own property, never a prototype.
        Object.defineProperty(out, key, { value: secret && secretValue(v) ? REDACTED : walk(v, depth + 1, seen), enumerable: true, writable: true, configurable: true });
      }
      return out;
    } finally {
      seen.delete(value);
    }
  };

  // The message of the last (fields, message) line found clean. Most lines are that shape with
  // a constant message ('request' on every access line): checked once, not on every line
  // (~0.6 µs a line otherwise).
  let lastCleanMessage: string | undefined;

  return {
    value: (value) => walk(value, 0, new Set()),
    string,
    isSecretKey,
    logFormatter: (object) => walk(object, 0, new Set()) as Record<string, unknown>,
    // The merging object (first) is left to logFormatter. An Error there is also where pino takes
    // the message from when none follows: it is passed as { err } with that message, redacted.
    logMethod(args, method) {
      const fields = args[0];
      const plainShape = args.length === 2 && typeof fields === 'object' && fields !== null && !(fields instanceof Error);
      if (plainShape && args[1] === lastCleanMessage) { method.apply(this, args); return; }
      const rest = args.map((a, i) => {
        if (typeof a === 'string') return string(a);
        return i > 0 && typeof a === 'object' && a !== null ? walk(a, 0, new Set()) : a;
      });
      const first = args[0];
      if (first instanceof Error) rest.splice(0, 1, { err: first }, ...(typeof rest[1] === 'string' ? [] : [string(first.message)]));
      if (plainShape && typeof args[1] === 'string' && rest[1] === args[1]) lastCleanMessage = args[1];
      method.apply(this, rest);
    },
  };
}

/** The `name` (or `key`) of a `{ name, value }` entry, when it is a string; a throwing getter counts as none. */
function entryName(entry: Record<string, unknown>, keys: readonly string[]): string | undefined {
  for (const k of ['name', 'key']) {
    if (!keys.includes(k)) continue;
    try {
      const n = entry[k];
      if (typeof n === 'string') return n;
    } catch {
      // Read as no name: the value is walked like any other.
    }
  }
  return undefined;
}
