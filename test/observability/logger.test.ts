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
