/**
 * Redaction rules against secrets in places the canary test does not plant them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRedactor, REDACTED } from '../../src/audit/redact.ts';

const redactor = createRedactor();

describe('redaction of URL userinfo', () => {
  it('cuts the password out of URLs with userinfo (connection strings, upstream URLs) and keeps scheme, user and host', () => {
    assert.equal(redactor.string('upstream https://alice:s3cret@db.example/x failed'), `upstream https://alice:${REDACTED}@db.example/x failed`);
    assert.equal(redactor.string('redis://:hunter2@redis:6379/0'), `redis://:${REDACTED}@redis:6379/0`);
    assert.equal(redactor.string('postgres://gh:pw%40x=y@pg/db'), `postgres://gh:${REDACTED}@pg/db`);
    assert.deepEqual(redactor.value({ upstream: { url: 'https://u:canaryPw@h/' } }), { upstream: { url: `https://u:${REDACTED}@h/` } });
  });

  it('leaves URLs without a password alone', () => {
    for (const s of ['https://alice@example.com/x', 'https://example.com:8443/a:b@c', 'mailto:alice@example.com']) assert.equal(redactor.string(s), s);
  });
});
