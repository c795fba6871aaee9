/**
 * Redaction: the one set of rules that runs before anything is stored in the audit log
 * or written to a log line. Two kinds of rule:
 *
 *   - keys: a value under a secret-looking key (authorization, cookie, token, password,
 *     secret, api key, private key, credential, session, otp…) is replaced whole,
 *     at any depth, whatever its type;
 *   - patterns: secrets recognizable by their shape are cut out of every string, under
 *     any key: JWTs, `Bearer`/`Basic`/`DPoP` credentials, `ghs_` API tokens, PEM private
 *     keys, URL userinfo passwords and `token=`/`password=`/… pairs in query strings and
 *     form bodies.
 *
 * Both lists grow from configuration (`audit.redact.keys`, `audit.redact.patterns`).
 * Redaction never mutates its input and never throws on odd input (cycles, getters,
 * `__proto__` keys): it fails closed by replacing what it cannot walk.
 */
import { stdSerializers } from 'pino';

/** What replaces a secret. */
export const REDACTED = '[REDACTED]';

const DEFAULT_SECRET_KEY = /authori[sz]ation|cookie|token|passw(or)?d|passphrase|secret|api[-_]?key|private[-_]?key|credential|session|^otp$|totp|recovery[-_]?code|code[-_]?verifier|assertion|^dpop$|x-gatehouse-identity|signature|^sig$|^key$|bearer/i;

/** Keys that look secret by name but carry only a kind or an identifier meant for audit. */
const NON_SECRET_KEYS = new Set(['tokenKind', 'tokenType', 'token_type', 'tokenId', 'tokenEndpoint', 'token_endpoint', 'sessionCount']);

/**
 * The password of a URL's userinfo (`scheme://user:password@host`: connection strings,
 * upstream URLs), alone: scheme, user and host stay readable, and the whole password goes
 * even when it holds an `=`. Userinfo ends at the last `@` before the path, as URL parsers
 * read it: operators write e-mail user names (`smtp://a@b.example:pw@mail`) and `@` in
 * passwords unescaped, and stopping at the first `@` left such a password whole or in part.
 */
const USERINFO_PASSWORD = /(?<=\b[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/?#:]*:)[^\s/?#]+(?=@)/g;

const DEFAULT_PATTERNS: RegExp[] = [
  USERINFO_PASSWORD,
  // PEM private keys (any label).
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
  // JWS / JWE compact serializations: a base64url JSON header starting `{"` is `eyJ`.
  /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)?/g,
  // HTTP credentials in header-like text.
  /\b(Bearer|Basic|DPoP|Digest|Negotiate)\s+[A-Za-z0-9._~+/=:-]+/gi,
  // Gatehouse API tokens and GitHub-style tokens.
  /\bgh[opsur]_[A-Za-z0-9_-]{8,}/g,
  // key=value pairs with a secret-looking key, in query strings, form bodies and cookies.
  /\b([A-Za-z0-9_.-]*(?:token|password|passwd|secret|api_?key|apikey|code_verifier|signature|session|assertion)[A-Za-z0-9_.-]*|code|sig|key|otp)=[^&\s;"',]+/gi,
];

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
   */
  logFormatter(object: Record<string, unknown>): Record<string, unknown>;
}

const MAX_DEPTH = 16;

/** Builds the redactor; invalid patterns from config are refused by the config schema. */
export function createRedactor(config: RedactionConfig = {}): Redactor {
  const extraKeys = (config.keys ?? []).map((k) => new RegExp(k, 'i'));
  const patterns = [...DEFAULT_PATTERNS, ...(config.patterns ?? []).map((p) => new RegExp(p, 'g'))];

  const isSecretKey = (key: string): boolean => {
    if (NON_SECRET_KEYS.has(key)) return false;
    if (DEFAULT_SECRET_KEY.test(key)) return true;
    for (const re of extraKeys) if (re.test(key)) return true;
    return false;
  };

  const string = (text: string): string => {
    let out = text;
    for (const re of patterns) {
      re.lastIndex = 0;
      if (re.test(out)) {
        re.lastIndex = 0;
        // Keep the key of a key=value pair, so the record still says *what* was there.
        out = out.replace(re, (match: string) => {
          if (re === USERINFO_PASSWORD) return REDACTED;
          const eq = match.indexOf('=');
          return eq > 0 && /^[A-Za-z0-9_.-]+$/.test(match.slice(0, eq)) ? `${match.slice(0, eq)}=${REDACTED}` : REDACTED;
        });
      }
    }
    return out;
  };

  const walk = (value: unknown, depth: number, seen: Set<object>): unknown => {
    if (typeof value === 'string') return string(value);
    if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? value.toString() : value;
    if (depth > MAX_DEPTH || seen.has(value)) return REDACTED;
    seen.add(value);
    try {
      if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1, seen));
      if (value instanceof Error) return walk(stdSerializers.err(value), depth + 1, seen);
      if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        let v: unknown;
        try {
          v = (value as Record<string, unknown>)[key];
        } catch {
          v = REDACTED;
        }
        // defineProperty: a `__proto__` key stays an own property, never a prototype.
        Object.defineProperty(out, key, { value: isSecretKey(key) && v !== undefined && v !== null && v !== '' ? REDACTED : walk(v, depth + 1, seen), enumerable: true, writable: true, configurable: true });
      }
      return out;
    } finally {
      seen.delete(value);
    }
  };

  return {
    value: (value) => walk(value, 0, new Set()),
    string,
    isSecretKey,
    logFormatter: (object) => walk(object, 0, new Set()) as Record<string, unknown>,
  };
}
