/**
 * The built-in value patterns of redact.ts: secrets recognizable by their shape, cut out of
 * every string under any key. Every one runs in linear time (each request's path goes through
 * all of them), and each has a cheap `includes` gate in {@link NEEDS}.
 */

/**
 * The password of a URL's userinfo (`scheme://user:password@host`: connection strings,
 * upstream URLs), alone: scheme, user and host stay readable, and the whole password goes
 * even when it holds an `=`. Userinfo ends at the last `@` before the path, as URL parsers
 * read it: operators write e-mail user names (`smtp://a@b.example:pw@mail`) and `@` in
 * passwords unescaped, and stopping at the first `@` left such a password whole or in part.
 */
const USERINFO_PASSWORD = /(?<=\b[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/?#:]*:)[^\s/?#]+(?=@)/g;

/**
 * `name=value` pairs with a secret-looking name (query strings, form bodies, cookies). A name is
 * a whole run of `[A-Za-z0-9_.-]`, or what follows a percent escape (`%3Fcode%3D…` inside an
 * encoded return URL); it is secret when it contains one of the long words, or its last
 * `.`/`-` part is one of the short ones (`connect.sid`, `x-api-key`, not `my_key` or `monkey`).
 * `=` may be percent-encoded any number of times (a return URL inside a return URL inside…), with blanks around it (RFC 6265 cookie parsers trim
 * them); the value is quoted, or runs to a separator (an encoded `&` included).
 * Groups: name, separator.
 *
 * Linear on purpose: every path a client sends goes through here. A start is only ever the
 * beginning of a run (the lookbehinds), and the name test is a lookahead inside that run: the
 * earlier `\b[A-Za-z0-9_.-]*(?:token|…)[A-Za-z0-9_.-]*=` backtracked cubically, and a 9 kB path of
 * `token.token.…` held the event loop for 20 s.
 */
const PAIR_SEPARATOR = '[ \\t]*(?:=|%(?:25)*3D)[ \\t]*';
const PAIR_LONG_WORDS = '(?:token|password|passwd|secret|api_?key|apikey|code_verifier|signature|session|sess_?id|assertion)';
const PAIR_SHORT_WORDS = '(?:code|sig|key|otp|pwd|pass|auth|jwt|sid)';
export const PAIR = new RegExp(
  '(?:(?<![A-Za-z0-9_.%-])|(?<=%[0-9A-Fa-f]{2}))'
  + `(?=[A-Za-z0-9_.-]*?${PAIR_LONG_WORDS}`
  + `|(?:[A-Za-z0-9_.-]*[.-])?${PAIR_SHORT_WORDS}${PAIR_SEPARATOR})`
  + `([A-Za-z0-9_.-]+)(${PAIR_SEPARATOR})`
  + '(?:"[^"\\r\\n]*"?|\'[^\'\\r\\n]*\'?|(?:(?!%(?:25)*26)[^&\\s;"\',])+)',
  'gi',
);

/**
 * The same test as {@link PAIR}'s on a whole (decoded) name, for names written with percent
 * escapes (`tok%65n`), which PAIR reads as written (encoded-pair.ts).
 */
const SECRET_PAIR_NAME = new RegExp(`${PAIR_LONG_WORDS}|(?:^|[.-])${PAIR_SHORT_WORDS}$`, 'i');
export const isSecretPairName = (name: string): boolean => SECRET_PAIR_NAME.test(name);

/**
 * A header name as HTTP writes it (RFC 9110 token): an array whose even elements are all such
 * names is read as a header list (Node's `rawHeaders`, undici's `headers` arrays, `[name, value]`
 * entries), and the element after a secret name is replaced.
 */
export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;

/**
 * Header lines that carry credentials, whatever the scheme (`Token`, `ApiKey`, `Digest`…) and
 * whatever the cookies are called: everything after the colon to the end of the line. Names:
 * Authorization, Proxy-Authorization, Cookie, Set-Cookie, Api-Key/Apikey, any `x-` name with a
 * secret word in it, and any hyphenated name whose last part is one (`Private-Token` of GitLab,
 * `Auth-Token`, `X-Amz-Security-Token`, `Client-Secret`): services name their credential headers
 * without the `x-` prefix as often as with it.
 * Group: the header name. Linear like {@link PAIR}: a start is the beginning of a name.
 */
export const HEADER_LINE = new RegExp(
  '(?<![A-Za-z0-9-])(?='
  + '(?:(?:proxy-)?authori[sz]ation|set-cookie|cookie|api-?key|(?:[A-Za-z0-9]+-)+(?:token|api-?key|apikey|secret|password|auth|credentials?))[ \\t]*:'
  + '|x-[A-Za-z0-9-]*?(?:token|api-?key|secret|auth|session|password))'
  + '([A-Za-z][A-Za-z0-9-]*)[ \\t]*:[ \\t]*[^\\r\\n]+',
  'gi',
);

/**
 * `name: value` in free text (a YAML line, a Python dict as `{'password': 'x'}` prints, a
 * message `login failed, password: hunter2`, JSON with escaped quotes inside a string) under a
 * name with a secret word in it: the value alone goes, one quoted string or one word (to the
 * next blank or `, ; ) ] }`), and the name stays. A secret word with no colon after it
 * is prose and stays whole (`password reset requested for alice`). Fewer words than for
 * {@link PAIR}: `session:`, `key:`, `code:` and `signature:` begin ordinary messages (`could not
 * end the sign-in session: …`, `code: ERR_…`), where `code=` in a query string is an OAuth code.
 * Groups: name, separator, the opening quote of a quoted value (two alternatives).
 */
const TEXT_LONG_WORDS = '(?:passw(?:or)?d|passphrase|secret|token|api[_-]?key|private[_-]?key|access[_-]?key|credential|code[_-]?verifier)';
const TEXT_SHORT_WORDS = '(?:pwd|pass|otp|jwt|sid)';
export const COLON_PAIR = new RegExp(
  '(?<![A-Za-z0-9_.-])'
  + `(?=[A-Za-z0-9_.-]*?${TEXT_LONG_WORDS}|(?:[A-Za-z0-9_.-]*[_.-])?${TEXT_SHORT_WORDS}\\\\?["']?[ \\t]*:)`
  + `([A-Za-z0-9_.-]+)(\\\\?["']?[ \\t]*:[ \\t]*)`
  // Not a value an earlier rule has already replaced (`Private-Token: [REDACTED]`).
  + '(?!\\[REDACTED\\])'
  + `(?:(\\\\?")[^"\\r\\n]*"?|(\\\\?')[^'\\r\\n]*'?|[^\\s,;'")\\]}]+)`,
  'gi',
);

/**
 * A `"name": "value"` member of JSON text inside a string (a request body or an upstream answer
 * quoted in an error message): the value goes when the name is a secret key by the same rules as
 * object keys. A number goes too (a one-time code or PIN sent as `"otp": 123456`), replaced by the
 * quoted marker. Groups: the name, what lies between it and the value.
 */
export const JSON_MEMBER = /"((?:[^"\\\r\n]|\\.){1,128})"(\s*:\s*)(?:"(?:[^"\\]|\\.)*"|-?\d[0-9.eE+-]*)/g;

// PEM private keys (any label).
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
/**
 * JWS / JWE compact serializations: a base64url JSON header starting `{"` is `eyJ`. Only at the
 * start of a base64url run (or right after a percent escape, `%3DeyJ…`): from every `eyJ` inside
 * one, a scan to its end was quadratic. A dot may be percent-encoded (`%2E`, `%252E`…), as in a
 * token carried inside an encoded URL.
 * Blanks and line breaks at its two dots are taken in (a log line folded there, a token pasted
 * with spaces): the signature after them is the secret. So are the next lines of a signature
 * folded at a line width, when such a line is nothing but base64url. The pattern stays linear:
 * each blank run sits between a base64url run and a literal dot, which neither contains, and
 * the folded lines are at most 16.
 */
const JWT_START = '(?:(?<![A-Za-z0-9_-])|(?<=%[0-9A-Fa-f]{2}))eyJ';
const JWT_DOT = '(?:\\.|%(?:25)*2[Ee])';
const JWT_FOLDED_LINES = '(?:[ \\t]*(?:\\r\\n|\\r|\\n)[ \\t]*[A-Za-z0-9_-]+(?=[ \\t]*(?:[\\r\\n]|$))){0,16}';
const JWT = new RegExp(
  `${JWT_START}[A-Za-z0-9_-]{4,}[ \\t\\r\\n]*${JWT_DOT}[ \\t\\r\\n]*[A-Za-z0-9_-]*[ \\t\\r\\n]*${JWT_DOT}[ \\t\\r\\n]*[A-Za-z0-9_-]*`
  + `(?:${JWT_DOT}[A-Za-z0-9_-]*${JWT_DOT}[A-Za-z0-9_-]*|${JWT_FOLDED_LINES})`,
  'g',
);
/**
 * A JWS broken inside its header or payload by blanks or line breaks (a token pasted across
 * lines, a log line folded at a fixed width, which falls anywhere in a part): {@link JWT} stops at
 * the break and left the rest, signature included. Both parts are base64url of JSON here (`eyJ…`),
 * which keeps prose that starts with `eyJ` out; up to 16 breaks a part, so each start scans a
 * bounded number of words and the whole stays linear.
 */
const JWT_PART_WITH_BREAKS = '[A-Za-z0-9_-]+(?:[ \\t\\r\\n]+[A-Za-z0-9_-]+){0,16}[ \\t\\r\\n]*';
const JWT_BROKEN = new RegExp(
  `${JWT_START}${JWT_PART_WITH_BREAKS}${JWT_DOT}[ \\t\\r\\n]*eyJ${JWT_PART_WITH_BREAKS}${JWT_DOT}[ \\t\\r\\n]*[A-Za-z0-9_-]*${JWT_FOLDED_LINES}`,
  'g',
);
// HTTP credentials in header-like text; the blank after the scheme may be percent-encoded
// (`?authorization=Bearer%20…` in a URL), and so may the credential's characters.
const SCHEME_CREDENTIAL = /\b(Bearer|Basic|DPoP|Digest|Negotiate)(?:\s+|%20)[A-Za-z0-9._~+/=:%-]+/gi;
// Gatehouse API tokens and GitHub-style tokens.
const GH_TOKEN = /\bgh[opsur]_[A-Za-z0-9_-]{8,}/g;

export const DEFAULT_PATTERNS: RegExp[] = [USERINFO_PASSWORD, PEM_PRIVATE_KEY, JWT_BROKEN, JWT, HEADER_LINE, JSON_MEMBER, SCHEME_CREDENTIAL, GH_TOKEN, COLON_PAIR, PAIR];

/**
 * A character or word every match of a pattern contains: `includes` is an order of magnitude
 * cheaper than a regex scan, and most strings of a record (ids, routes, user agents) hold none,
 * so most patterns are never run on them. Patterns not listed always run.
 */
export const NEEDS = new Map<RegExp, (s: string) => boolean>([
  [USERINFO_PASSWORD, (s) => s.includes('@')],
  [PEM_PRIVATE_KEY, (s) => s.includes('-----BEGIN ')],
  [JWT_BROKEN, (s) => s.includes('eyJ')],
  [JWT, (s) => s.includes('eyJ')],
  [HEADER_LINE, (s) => s.includes(':')],
  [JSON_MEMBER, (s) => s.includes(':')],
  [GH_TOKEN, (s) => s.includes('_')],
  [COLON_PAIR, (s) => s.includes(':')],
  [PAIR, (s) => s.includes('=') || s.includes('%')],
]);
