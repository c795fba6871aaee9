/**
 * A worker thread's log lines sent to the main thread (src/core/threads/port-logger.ts): errors
 * arrive with their codes, and a field that cannot be copied between threads does not make the
 * logger throw (it would turn the caller's error handling into the thread's uncaught error).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { once } from 'node:events';
import { portLogger, type LogMessage } from '../../src/core/threads/port-logger.ts';
import { GatehouseError } from '../../src/core/errors.ts';

async function logged(write: (logger: ReturnType<typeof portLogger>) => void): Promise<LogMessage> {
  const { port1, port2 } = new MessageChannel();
  try {
    const received = once(port2, 'message');
    write(portLogger(port1, { component: 'test' }));
    return (await received)[0] as LogMessage;
  } finally {
    port1.close();
    port2.close();
  }
}

describe('port logger', () => {
  it('sends an error as its code, message and detail, with the bindings and the level', async () => {
    const sent = new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'refused' });
    const m = await logged((l) => l.warn({ err: sent, chain: 'main' }, 'could not'));
    assert.equal(m.level, 'warn');
    assert.equal(m.msg, 'could not');
    assert.equal(m.fields.component, 'test');
    assert.equal(m.fields.chain, 'main');
    const err = m.fields.err as { code: string; message: string; detail: string };
    assert.deepEqual(Object.keys(err).sort(), ['code', 'detail', 'message']);
    assert.equal(err.code, 'ERR_STORE_UNAVAILABLE');
    assert.equal(err.detail, 'refused');
    assert.equal(err.message, sent.message, 'the error\'s own message');
  });

  it('a field that cannot be copied to the main thread (a function) does not make it throw: the line arrives with the field as text', async () => {
    const m = await logged((l) => l.error({ callback: () => 1, nested: { ok: true } }, 'odd fields'));
    assert.equal(m.msg, 'odd fields');
    assert.equal(typeof m.fields.callback, 'string');
    assert.equal(m.fields.nested, '{"ok":true}');
  });
});
