/**
 * /readyz runs the store's health check on every poll (polls that overlap share one check,
 * but one after another each runs its own). While the database is down each failed check
 * wrote a warning: a loop polling /readyz — a misconfigured probe, or anyone who reaches the
 * ops listener — wrote some 160 lines a second, filling the log output (whose buffer drops
 * lines beyond its bound, access lines included) with one message.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { openStore } from '../../src/store/index.ts';
import { closedPort } from '../support/closed-port.ts';

it('a hundred failed store health checks in a row (readiness polled in a loop while the database is down) write one warning, not a hundred', async () => {
  const lines: { msg: string; suppressed?: number }[] = [];
  const sink = new Writable({ write(chunk, _encoding, done) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l)); done(); } });
  const store = await openStore(`postgres://gatehouse@127.0.0.1:${await closedPort()}/x`, { logger: pino({ level: 'info' }, sink), connectTimeoutMs: 1000 });
  try {
    for (let i = 0; i < 100; i++) {
      const health = await store.health();
      assert.deepEqual([health.ok, health.detail], [false, 'ERR_STORE_UNAVAILABLE'], 'every check still reports the failure');
    }
  } finally {
    await store.close();
  }
  const warnings = lines.filter((l) => l.msg === 'store: health check failed');
  assert.equal(warnings.length, 1, `${warnings.length} warnings for 100 failed checks`);
});
