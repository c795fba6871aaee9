/**
 * Gatehouse's own logger redacts secrets in the message text too, not only in the fields:
 * pino hands its `formatters.log` everything but the message, so a secret interpolated into
 * a message (a connection URL with its password, an upstream's error text) reached the log.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { createLogger } from '../../src/observability/logger.ts';

describe('createLogger', () => {
  it('redacts a secret interpolated into a log message (a Redis URL with its password, a token in %s) as it does in fields', async () => {
    const canary = (n: number) => `canary${n}${randomBytes(6).toString('hex')}`;
    const lines: string[] = [];
    const destination = new Writable({ write(c: Buffer, _e, cb) { lines.push(c.toString('utf8')); cb(); } });
    const logger = createLogger({ destination: destination as never });
    const secrets = [canary(1), canary(2), canary(3)];
    logger.warn(`cannot reach redis://:${secrets[0]}@redis:6379`);
    logger.warn('upstream said %s', `password=${secrets[1]}`);
    logger.warn({ detail: `token=${secrets[2]}` }, 'field');
    // A clean message is remembered (access lines repeat one): the next, different one is still checked.
    logger.info({ n: 1 }, 'request');
    logger.info({ n: 2 }, 'request');
    logger.info({ n: 3 }, `password=${secrets[0]}`);
    await new Promise((r) => setImmediate(r));
    const text = lines.join('');
    assert.equal(lines.length, 6, text);
    assert.deepEqual(secrets.filter((s) => text.includes(s)), [], text);
    assert.match(text, /redis:\/\/:\[REDACTED\]@redis:6379/);
  });
});

describe('createLogger errors', () => {
  it('keeps a logged error\'s type (TypeError, AggregateError, an undici error) with its cause and sub-errors redacted', async () => {
    const lines: string[] = [];
    const destination = new Writable({ write(c: Buffer, _e, cb) { lines.push(c.toString('utf8')); cb(); } });
    const logger = createLogger({ destination: destination as never });
    const secret = `canary${randomBytes(6).toString('hex')}`;
    logger.error({ err: new TypeError('bad input', { cause: new Error(`upstream said authorization: Bearer ${secret}`) }) }, 'a');
    logger.error({ err: new AggregateError([Object.assign(new Error('refused'), { headers: { cookie: `sid=${secret}` } })], 'all failed') }, 'b');
    class UndiciLikeError extends Error { override name = 'ResponseError'; headers = { 'set-cookie': `sid=${secret}`, 'x-api-key': secret }; }
    logger.error({ err: new UndiciLikeError('status 500') }, 'c');
    logger.error(new RangeError('out of range'));
    await new Promise((r) => setImmediate(r));
    const text = lines.join('');
    assert.equal(text.includes(secret), false, text);
    const types = lines.map((l) => (JSON.parse(l) as { err: { type: string } }).err.type);
    assert.deepEqual(types, ['TypeError', 'AggregateError', 'UndiciLikeError', 'RangeError']);
    assert.match(text, /caused by: Error: upstream said authorization: \[REDACTED\]/);
    assert.match(lines[1]!, /"aggregateErrors":\[\{"type":"Error","message":"refused"/);
  });
});
