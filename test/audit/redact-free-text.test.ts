/**
 * Secrets written into free text under a bare name (`password: x`, a Python dict, a header line
 * with a name services use without the `x-` prefix), as error messages, upstream answers and
 * log lines carry them into records.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { draftFromEnvelope } from '../../src/audit/map-event.ts';
import { createRedactor, REDACTED } from '../../src/audit/redact.ts';

const redactor = createRedactor();
const S = (n: number) => `s3cretValue${n}x`;

describe('secrets under a bare name in free text', () => {
  it('a password written as "password: hunter2" in free text is redacted before it is stored, and the rest of the message stays', () => {
    assert.equal(redactor.string(`login failed, password: ${S(1)} for alice`), `login failed, password: ${REDACTED} for alice`);
    assert.equal(redactor.string(`db_password:${S(2)}`), `db_password:${REDACTED}`);
    assert.equal(redactor.string(`token : ${S(3)}, retrying`), `token : ${REDACTED}, retrying`);
    assert.equal(redactor.string(`otp: ${S(4)}`), `otp: ${REDACTED}`);
  });

  it('a Python-style dict {\'password\': \'x\', \'api_key\': \'y\'} in an error detail loses the values and keeps the other members', () => {
    assert.equal(redactor.string(`upstream 500: {'user': 'bob', 'password': '${S(1)}', 'api_key': '${S(2)}'}`), `upstream 500: {'user': 'bob', 'password': '${REDACTED}', 'api_key': '${REDACTED}'}`);
  });

  it('JSON with escaped quotes inside a string (\\"password\\":\\"x\\") loses the value', () => {
    assert.equal(redactor.string(`body {\\"client_secret\\":\\"${S(1)}\\",\\"u\\":\\"b\\"}`), `body {\\"client_secret\\":\\"${REDACTED}\\",\\"u\\":\\"b\\"}`);
  });

  it('secret=, api_key= and token: in a URL or message carried by an event end up redacted in the stored record', () => {
    const d = draftFromEnvelope({
      id: '0199c3a0-0000-7000-8000-0000000000f1', time: new Date().toISOString(), instance: 'gw-1', name: 'identity.login.failed',
      payload: { reason: `provider said: secret=${S(1)} token: ${S(2)}`, error: { message: `GET https://api.example/v1?api_key=${S(3)} failed`, detail: `{'password': '${S(4)}'}` } },
    }, redactor);
    const stored = JSON.stringify(d);
    assert.deepEqual([1, 2, 3, 4].map(S).filter((s) => stored.includes(s)), []);
    assert.ok(d.details.includes('provider said: secret='), d.details);
  });

  it('a password in a log line\'s message ("password: x") is redacted with the documented pino wiring', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(c: Buffer, _e, cb) { lines.push(c.toString('utf8')); cb(); } });
    const logger = pino({ formatters: { log: redactor.logFormatter }, hooks: { logMethod: redactor.logMethod } }, sink);
    logger.warn(`config reload: password: ${S(1)}`);
    logger.warn({ detail: `{'token': '${S(2)}'}` }, 'refresh failed');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual([1, 2].map(S).filter((s) => lines.join('').includes(s)), []);
  });

  it('a secret word with no colon after it is prose and stays whole: "password reset requested for alice" keeps alice', () => {
    for (const s of ['password reset requested for alice', 'token expired for bob', 'could not end the IdP sign-in session: fetch failed', 'code: ERR_AUTHN_TOKEN_EXPIRED', 'tokenType: Bearer', 'urn:ietf:params:oauth:token-type:jwt', 'key: 203.0.113.7']) {
      assert.equal(redactor.string(s), s);
    }
  });
});

describe('credential header lines and names without the x- prefix', () => {
  it('Api-Key:, Apikey:, Private-Token: (GitLab), Auth-Token: and X-Amz-Security-Token: lines in free text lose their values to the end of the line', () => {
    const lines = [`Api-Key: ${S(1)} extra`, `apikey: ${S(2)}`, `Private-Token: glpat-${S(3)}`, `Auth-Token: ${S(4)}`, `X-Amz-Security-Token: ${S(5)}`, `X-Auth-Token: ${S(6)}`, `Proxy-Authorization: Basic ${S(7)}`, `Set-Cookie: id=${S(8)}`];
    const out = redactor.string(`GET / HTTP/1.1\r\n${lines.join('\r\n')}\r\nHost: x`);
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map(S).filter((s) => out.includes(s)), []);
    assert.match(out, /\r\nPrivate-Token: \[REDACTED\]\r\n/);
    assert.match(out, /Host: x$/);
    assert.equal(redactor.string('Content-Type: text/html\r\nX-Request-Id: r1'), 'Content-Type: text/html\r\nX-Request-Id: r1');
  });

  it('the same names as header names in a record (object keys, rawHeaders lists) lose their values', () => {
    const names = ['Private-Token', 'Api-Key', 'Apikey', 'Auth-Token', 'X-Auth-Token', 'X-Api-Key', 'X-Amz-Security-Token', 'Proxy-Authorization', 'Cookie', 'Set-Cookie'];
    assert.deepEqual(redactor.value(Object.fromEntries(names.map((n) => [n, 'v']))), Object.fromEntries(names.map((n) => [n, REDACTED])));
    assert.deepEqual(redactor.value(names.flatMap((n) => [n, 'v'])), names.flatMap((n) => [n, REDACTED]));
  });
});

describe('cost of the free-text rules', () => {
  it('text built to make the colon and header-line rules backtrack (token.token…, a-b-c…, quoted names, 8 kB) is redacted in linear time', () => {
    for (const unit of ['token.', 'a-token-', 'a-', "'token'", '\\"password\\"', 'Private-Token ', 'pwd.', 'token: ']) {
      for (const tail of ['', ':', ': x', '\n']) {
        const text = unit.repeat(Math.ceil(8000 / unit.length)) + tail;
        const started = performance.now();
        redactor.string(text);
        const ms = performance.now() - started;
        assert.ok(ms < 250, `${JSON.stringify(unit)} + ${JSON.stringify(tail)}: ${ms.toFixed(0)} ms`);
      }
    }
  });
});
