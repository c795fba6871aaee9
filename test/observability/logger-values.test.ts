/**
 * Log fields that are objects without own keys (a Date, a URL) were written as `{}` by the
 * redacting formatter: every "certificate issued" line showed `"notAfter":{}`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.ts';

describe('createLogger values', () => {
  it('writes a Date as its ISO time and a URL as its text, with a password or token in the URL redacted', async () => {
    const lines: string[] = [];
    const destination = new Writable({ write(c: Buffer, _e, cb) { lines.push(c.toString('utf8')); cb(); } });
    const logger = createLogger({ destination: destination as never });
    logger.info({ notAfter: new Date(Date.UTC(2027, 0, 2, 3, 4, 5)), bad: new Date(Number.NaN), upstream: new URL('https://svc.internal:8443/path?x=1'), db: new URL('postgres://gate:canaryPw123@db:5432/g') }, 'certificate issued');
    await new Promise((r) => setImmediate(r));
    const line = JSON.parse(lines.join('')) as Record<string, unknown>;
    assert.equal(line.notAfter, '2027-01-02T03:04:05.000Z');
    assert.equal(line.bad, null);
    assert.equal(line.upstream, 'https://svc.internal:8443/path?x=1');
    assert.equal(typeof line.db, 'string');
    assert.doesNotMatch(lines.join(''), /canaryPw123/);
  });
});
