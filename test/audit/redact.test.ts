/**
 * Redaction rules against secrets in places the canary test does not plant them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createRedactor, REDACTED } from '../../src/audit/redact.ts';

const redactor = createRedactor();

describe('redaction of URL userinfo', () => {
  it('cuts the password out of URLs with userinfo (connection strings, upstream URLs) and keeps scheme, user and host', () => {
    assert.equal(redactor.string('upstream https://alice:s3cret@db.example/x failed'), `upstream https://alice:${REDACTED}@db.example/x failed`);
    assert.equal(redactor.string('redis://:hunter2@redis:6379/0'), `redis://:${REDACTED}@redis:6379/0`);
    assert.equal(redactor.string('postgres://gh:pw%40x=y@pg/db'), `postgres://gh:${REDACTED}@pg/db`);
    assert.deepEqual(redactor.value({ upstream: { url: 'https://u:canaryPw@h/' } }), { upstream: { url: `https://u:${REDACTED}@h/` } });
  });

  it('an email as user name or an @ in the password (connection strings as operators write them) does not leak the password: userinfo ends at the last @, as URL parsers read it', () => {
    const leaks = ['smtp://alice@example.com:s3cretPw@mail.example.com:587', 'https://svc:p@ssw0rd@upstream.internal/x', 'amqp://ops@corp:hunter2@mq/'];
    assert.deepEqual(leaks.map((s) => redactor.string(s)), [
      `smtp://alice@example.com:${REDACTED}@mail.example.com:587`, `https://svc:${REDACTED}@upstream.internal/x`, `amqp://ops@corp:${REDACTED}@mq/`,
    ]);
    for (const s of leaks) assert.ok(redactor.string(s).endsWith(s.slice(s.lastIndexOf('@'))), 'host kept');
  });

  it('leaves URLs without a password alone', () => {
    for (const s of ['https://alice@example.com/x', 'https://example.com:8443/a:b@c', 'mailto:alice@example.com', 'https://alice@example.com:8443/a@b', 'see https://h/x and a:b@c']) assert.equal(redactor.string(s), s);
  });
});

/** Each planted secret is unique, so a leak is a plain substring check. */
const S = (n: number) => `s3cretValue${n}x`;
const leaks = (input: unknown): string[] => {
  const out = JSON.stringify(redactor.value(input));
  return Array.from({ length: 40 }, (_, i) => S(i)).filter((s) => out.includes(s));
};

describe('redaction evasion', () => {
  it('cuts secrets out of percent-encoded query strings (an encoded return URL carrying ?code=, a %3D separator) and keeps the other parameters', () => {
    const s = `/login?return_to=%2Fcallback%3Fcode%3D${S(1)}%26state%3Dabc&next=%2Fx%3Faccess_token%253D${S(2)}`;
    assert.deepEqual(leaks(s), []);
    assert.match(redactor.string(s), /state%3Dabc/);
    assert.deepEqual(leaks(`access_token%3D${S(3)}`), []);
  });

  it('cuts quoted values and values with spaces around = (cookies as RFC 6265 allows them)', () => {
    assert.deepEqual(leaks([`token="${S(1)}"`, `session='${S(2)}'`, `Cookie: theme=dark; session = ${S(3)}`, `sid=${S(4)}; PHPSESSID=${S(5)}; connect.sid=${S(6)}`]), []);
    assert.deepEqual(leaks([`x?api-key=${S(7)}`, `a.key=${S(8)}`]), []);
    assert.equal(redactor.string('theme=dark; my_key=k; monkey=m'), 'theme=dark; my_key=k; monkey=m');
  });

  it('cuts the value of credential header lines whatever the scheme or the case of the name (Token, ApiKey, Digest, cookies with any names)', () => {
    const lines = [
      `Authorization: Token ${S(1)}`, `authorization:ApiKey ${S(2)}`, `PROXY-AUTHORIZATION: Digest username="a", response="${S(3)}"`,
      `GET / HTTP/1.1\r\nCookie: theme=dark; uid=${S(4)}\r\nHost: x`, `Set-Cookie: id=${S(5)}; Path=/`, `X-Api-Key: ${S(6)}`, `x-auth-token: ${S(7)}`,
    ];
    assert.deepEqual(leaks(lines), []);
    assert.match(redactor.string(lines[3]!), /Host: x$/);
  });

  it('cuts secrets out of JSON text carried in a string (a request body or an upstream answer in an error message), at any depth of that text', () => {
    const body = `upstream said {"user":"alice","password":"${S(1)}","nested":{"client_secret": "${S(2)}","deeper":[{"refresh_token":"${S(3)}"}]},"x-api-key":"${S(4)}"}`;
    assert.deepEqual(leaks({ msg: body }), []);
    assert.match(redactor.string(body), /"user":"alice"/);
    assert.deepEqual(leaks(`{"password":"${S(5)} with \\"quotes\\" inside"}`), []);
    // Identifiers that only look secret by name stay readable, as they do as object keys.
    assert.equal(redactor.string('{"tokenType":"Bearer"}'), '{"tokenType":"Bearer"}');
  });

  it('replaces values under the short secret key names (pwd, pass, auth, jwt, sid, access_key) in objects and query strings', () => {
    assert.deepEqual(leaks({ pwd: S(1), PASS: S(2), 'X-Auth': S(3), jwt: S(4), sid: S(5), access_key: S(6), AccessKey: S(7) }), []);
    assert.deepEqual(leaks(`?pwd=${S(8)}&pass=${S(9)}&auth=${S(10)}&jwt=${S(11)}`), []);
    // Not secrets: an auth method, an access key's id.
    assert.deepEqual(redactor.value({ authMethod: 'jwt', accessKeyId: 'AKIA1', author: 'bob' }), { authMethod: 'jwt', accessKeyId: 'AKIA1', author: 'bob' });
  });

  it('replaces a value nested deeper than the walk goes, and secrets inside arrays of objects at any depth', () => {
    let deep: unknown = { password: S(1) };
    for (let i = 0; i < 40; i++) deep = { a: [deep] };
    assert.deepEqual(leaks(deep), []);
  });
});

describe('redaction of headers given as arrays', () => {
  it('replaces each value of a repeated credential header in a raw header list (two Set-Cookie, a custom token header twice, as Node rawHeaders and undici header arrays carry them) and keeps the other headers', () => {
    const raw = ['Host', 'mail.example', 'Set-Cookie', `id=${S(1)}; Path=/`, 'Set-Cookie', `sid=${S(2)}`, 'X-Upstream-Token', S(3), 'X-Upstream-Token', S(4), 'Private-Token', S(5), 'Accept', 'text/html'];
    assert.deepEqual(leaks({ rawHeaders: raw }), []);
    assert.deepEqual(redactor.value(raw), ['Host', 'mail.example', 'Set-Cookie', REDACTED, 'Set-Cookie', REDACTED, 'X-Upstream-Token', REDACTED, 'X-Upstream-Token', REDACTED, 'Private-Token', REDACTED, 'Accept', 'text/html']);
  });

  it('replaces the values of secret headers given as [name, value] entries, { name, value } entries (HAR, cookie jars) and { key, value } attributes (OTLP)', () => {
    assert.deepEqual(leaks({ headers: [['set-cookie', `a=${S(1)}`], ['set-cookie', `b=${S(2)}`], ['x-api-key', S(3)], ['accept', '*/*']] }), []);
    assert.deepEqual(leaks({ headers: [{ name: 'Set-Cookie', value: `a=${S(4)}` }, { name: 'X-Session-Id', value: [S(5), S(6)] }] }), []);
    assert.deepEqual(leaks({ attributes: [{ key: 'http.request.header.authorization', value: { stringValue: `Token ${S(7)}` } }] }), []);
    assert.deepEqual(redactor.value([['accept', '*/*'], { name: 'Accept', value: 'text/html' }]), [['accept', '*/*'], { name: 'Accept', value: 'text/html' }]);
  });

  it('still replaces a credential header whose value is an array under its name (headersDistinct, set-cookie) whole', () => {
    assert.deepEqual(leaks({ headers: { 'set-cookie': [`a=${S(1)}`, `b=${S(2)}`], 'x-upstream-token': [S(3), S(4)], accept: ['*/*'] } }), []);
  });
});

describe('redaction of percent-encoded secret names', () => {
  it('cuts values whose name is percent-encoded in a query string or form body (?tok%65n=, ?pass%77ord=, %74oken, api%5Fkey, connect%2Esid) and keeps the names', () => {
    const s = `/x?tok%65n=${S(1)}&pass%77ord=${S(2)}&%74oken=${S(3)}&api%5Fkey=${S(4)}&connect%2Esid=${S(5)}&PASS%57ORD = ${S(6)}&q=mail`;
    assert.deepEqual(leaks(s), []);
    assert.match(redactor.string(s), /^\/x\?tok%65n=\[REDACTED\]&pass%77ord=\[REDACTED\]&.*&q=mail$/);
  });

  it('cuts values behind encoded names inside an encoded return URL, encoded once or twice (%3Ftok%65n%3D…, %253Fpass%2577ord%253D…)', () => {
    const s = `/login?return_to=%2Fcb%3Fstate%3Dabc%26tok%65n%3D${S(1)}%26x%3D1&next=%2Fy%253Fpass%2577ord%253D${S(2)}%2526z%253D2`;
    assert.deepEqual(leaks(s), []);
    assert.match(redactor.string(s), /state%3Dabc%26/);
    assert.match(redactor.string(s), /%26x%3D1&/);
  });

  it('judges JSON member names written with \\u escapes ({"tok\\u0065n": …}) and object keys left percent-encoded by their decoded name', () => {
    assert.deepEqual(leaks([`{"tok\\u0065n":"${S(1)}","\\u0070assword":"${S(2)}"}`, { 'tok%65n': S(3), 'client%5Fsecret': S(4) }]), []);
  });

  it('a malformed escape in a name or value (%ZZ, a cut UTF-8 sequence, a lone %) neither throws nor hides the secret after it', () => {
    const s = `/x?a=%E0%A4%A&b%ZZ=1&c%=2&%=3&tok%65n=${S(1)}&pass%7=${S(2)}`;
    assert.doesNotThrow(() => redactor.string(s));
    assert.deepEqual(leaks(s).filter((x) => x === S(1)), []);
    assert.equal(redactor.string('/x?q%5Fterm=hello&na%6De=bob&100%=x'), '/x?q%5Fterm=hello&na%6De=bob&100%=x');
  });
});

describe('redaction cost', () => {
  it('redacts request paths built to make its patterns backtrack (token.token.…, x-token-…, eyJ runs, 8 kB each) in linear time, not seconds of event loop per request', () => {
    const shapes = ['token.', 'x-token-', 'eyJa', '%3Fcode', '"token":"', 'session =', '%41', 'tok%65n%3D', 'a%3D', 'tok%65n ', '["x-token",'];
    for (const unit of shapes) {
      for (const tail of ['', '=', ':', '\n']) {
        const path = `/${unit.repeat(Math.ceil(8000 / unit.length))}${tail}`;
        const started = performance.now();
        redactor.string(path);
        const ms = performance.now() - started;
        assert.ok(ms < 250, `${JSON.stringify(unit)} + ${JSON.stringify(tail)}: ${ms.toFixed(0)} ms`);
      }
    }
  });
});

describe('redaction of log lines', () => {
  it('redacts a secret interpolated into the log message itself, its %s/%o arguments and an Error\'s message, with the documented pino wiring', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(c: Buffer, _e, cb) { lines.push(c.toString('utf8')); cb(); } });
    const logger = pino({ formatters: { log: redactor.logFormatter }, hooks: { logMethod: redactor.logMethod } }, sink);
    logger.warn({ attempt: 2 }, `cannot reach redis://:${S(1)}@redis:6379 (token=${S(2)})`);
    logger.warn('upstream said %s, headers %o', `password=${S(3)}`, { authorization: `Token ${S(4)}` });
    logger.error(new Error(`refresh failed for refresh_token=${S(5)}`));
    logger.child({ component: 'x' }).info(`Authorization: ApiKey ${S(6)}`);
    await new Promise((r) => setImmediate(r));
    const text = lines.join('');
    assert.equal(lines.length, 4);
    assert.deepEqual(Array.from({ length: 7 }, (_, i) => S(i)).filter((s) => text.includes(s)), []);
    for (const line of lines) assert.equal(line.split('"msg":').length, 2, `one message: ${line}`);
    assert.match(text, /cannot reach redis:\/\/:\[REDACTED\]@redis:6379/);
  });
});
