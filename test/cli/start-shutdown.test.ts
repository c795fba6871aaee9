/**
 * `gatehouse start` ending on SIGTERM / SIGINT: a gateway whose stop fails is reported as one
 * structured, redacted log line (level error, the error under `err`) and exit code 1. It was
 * printed with console.error: a raw multi-line dump outside the log's format and redaction.
 */
import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../src/observability/logger.ts';
import { stopGateway } from '../../src/cli/commands/start.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'info', instanceId: 'gw-test', destination: { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } } });
  return { logger, lines };
}

describe('start: shutdown on a signal', () => {
  it('a failed shutdown is one structured error log line with the cause redacted, not a console.error dump, and exits 1', async () => {
    const { logger, lines } = capture();
    const consoleError = mock.method(console, 'error', () => undefined);
    const exits: number[] = [];
    try {
      const failure = new Error('pool close failed for postgres://gatehouse:hunter2-secret@db.internal/gh');
      await stopGateway({ logger, stop: () => Promise.reject(failure) }, 'SIGTERM', (code) => { exits.push(code); });
    } finally {
      consoleError.mock.restore();
    }
    assert.deepEqual(exits, [1]);
    assert.equal(consoleError.mock.callCount(), 0, 'nothing printed around the logger');
    const failed = lines.find((l) => l.msg === 'shutdown failed');
    assert.ok(failed, JSON.stringify(lines));
    assert.equal(failed.level, 'error');
    assert.equal(failed.signal, 'SIGTERM');
    assert.match(JSON.stringify(failed.err), /pool close failed/);
    assert.doesNotMatch(JSON.stringify(lines), /hunter2-secret/);
  });

  it('a clean shutdown exits 0', async () => {
    const { logger, lines } = capture();
    const exits: number[] = [];
    await stopGateway({ logger, stop: () => Promise.resolve() }, 'SIGINT', (code) => { exits.push(code); });
    assert.deepEqual(exits, [0]);
    assert.ok(lines.some((l) => l.msg === 'shutting down' && l.signal === 'SIGINT'));
  });
});
