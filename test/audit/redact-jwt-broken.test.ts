/**
 * JWTs written so that the compact-form rule missed them: broken inside a part (pasted across
 * lines, a log line folded at a fixed width), dots percent-encoded inside a URL, and bearer
 * credentials carried in an encoded query string.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRedactor, REDACTED } from '../../src/audit/redact.ts';

const redactor = createRedactor();
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
const SIG = 'dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
/** No piece of the signature of 8 characters or more is left. */
const noSignature = (out: string) => {
  for (let i = 0; i + 8 <= SIG.length; i++) assert.ok(!out.includes(SIG.slice(i, i + 8)), `${SIG.slice(i, i + 8)} left in ${JSON.stringify(out)}`);
};

describe('JWTs broken or encoded', () => {
  it('a JWT broken by a blank or a line break inside its header or payload is redacted whole, the text around it kept', () => {
    for (const at of [10, 30, 35]) {
      for (const brk of [' ', '\n', '\r\n', '\n  ']) {
        const out = redactor.string(`rejected ${JWT.slice(0, at)}${brk}${JWT.slice(at)} for bob`);
        noSignature(out);
        assert.equal(out, `rejected ${REDACTED} for bob`, JSON.stringify([at, brk]));
      }
    }
  });

  it('a JWT folded at a fixed width (every 20 characters, signature included) is redacted whole and the next line is kept', () => {
    const folded = JWT.match(/.{1,20}/g)!.join('\n');
    assert.equal(redactor.string(`${folded}\nDone.`), `${REDACTED}\nDone.`);
  });

  it('a JWT whose dots are percent-encoded (%2E, %252E) inside a URL is redacted and the other parameters stay', () => {
    assert.equal(redactor.string(`/cb?t=${JWT.replaceAll('.', '%2E')}&state=abc`), `/cb?t=${REDACTED}&state=abc`);
    assert.equal(redactor.string(`/login?next=%2Fcb%3Fid%3D${JWT.replaceAll('.', '%252E')}%26x%3D1`), `/login?next=%2Fcb%3Fid%3D${REDACTED}%26x%3D1`);
  });

  it('a bearer credential holding a broken JWT, or sent as Bearer%20… in a query string, is redacted where a plain JWT is', () => {
    noSignature(redactor.string(`Bearer ${JWT.slice(0, 12)}\n${JWT.slice(12)}`));
    assert.equal(redactor.string('/x?authorization=Bearer%20opaqueS3cret.value&y=1'), `/x?authorization=${REDACTED}&y=1`);
    assert.equal(redactor.string(`/x?h=Bearer%20${JWT.replaceAll('.', '%2E')}`), `/x?h=Bearer%20${REDACTED}`);
  });

  it('prose that starts a word with eyJ is not taken for a broken JWT', () => {
    const s = 'see eyJhbGciOi is how a header starts. And eyJ foo. End';
    assert.equal(redactor.string(s), s);
  });

  it('text built to make the broken-JWT rule backtrack (eyJ words, dots, encoded dots, line breaks; 8 kB) is redacted in linear time', () => {
    for (const unit of ['eyJa ', 'eyJab.eyJ ', 'eyJab c.eyJ d ', 'eyJab.eyJab.x\n', 'eyJa%2E', 'eyJa\n']) {
      for (const tail of ['', '.', '\n', 'x.']) {
        const text = unit.repeat(Math.ceil(8000 / unit.length)) + tail;
        const started = performance.now();
        redactor.string(text);
        const ms = performance.now() - started;
        assert.ok(ms < 250, `${JSON.stringify(unit)} + ${JSON.stringify(tail)}: ${ms.toFixed(0)} ms`);
      }
    }
  });
});
