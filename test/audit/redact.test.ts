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
