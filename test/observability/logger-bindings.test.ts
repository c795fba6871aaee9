/**
 * A child logger's bindings are written on every line of that logger, but pino hands them
 * to `formatters.bindings`, not to `formatters.log`: the value-pattern and any-depth redaction
 * of log lines never saw them, so a connection URL or a nested secret bound to a component's
 * logger reached every one of its lines.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { createLogger } from '../../src/observability/logger.ts';

describe('createLogger child bindings', () => {
  it('a secret bound to a child logger (a URL with its password, a nested password, a JWT) is redacted on its lines', async () => {
    const lines: string[] = [];
    const destination = new Writable({ write(c: Buffer, _e, cb) { lines.push(c.toString('utf8')); cb(); } });
    const logger = createLogger({ destination: destination as never, instanceId: 'gh-1' });
    const secret = `canary${randomBytes(6).toString('hex')}`;
    const jwt = `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIke3NlY3JldH0ifQ.${randomBytes(16).toString('base64url')}`;
    const child = logger.child({ component: 'store', url: `postgres://gatehouse:${secret}@db:5432/gh`, options: { pool: { auth: { password: secret } } }, upstreamToken: jwt });
    child.info('connected');
    child.child({ component: 'inner' }).warn('nested');
    await new Promise((r) => setImmediate(r));
    const text = lines.join('');
    assert.equal(lines.length, 2, text);
    assert.equal(text.includes(secret), false, text);
    assert.equal(text.includes(jwt), false, text);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    // What is not secret stays as it was.
    assert.equal(first.component, 'store');
    assert.equal(first.instance, 'gh-1');
    assert.match(String(first.url), /^postgres:\/\/gatehouse:\[REDACTED\]@db:5432\/gh$/);
    assert.equal((JSON.parse(lines[1]!) as Record<string, unknown>).component, 'inner');
  });
});
