/**
 * Log lines wait in memory while the output (stdout: a pipe, a log shipper) does not take
 * them. Without a bound, a stalled shipper under traffic let every access line pile up until
 * the gateway ran out of memory; now lines beyond MAX_BUFFERED_LOG_BYTES are dropped, and
 * their count is logged once the output has caught up.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { MAX_BUFFERED_LOG_BYTES } from '../../src/observability/logger.ts';

const LOGGER = new URL('../../src/observability/logger.ts', import.meta.url).href;
// A small bound for the test; the default (64 MiB) is checked to be one.
const BOUND = 1024 * 1024;
const LINE_BYTES = 16 * 1024;
const LINES = Math.ceil((BOUND * 1.5) / LINE_BYTES);

describe('createLogger output buffer', () => {
  it('a log output that does not keep up: lines beyond the buffer bound are dropped and counted in a warning, not held in memory without limit', async () => {
    // The child writes every line in one synchronous loop, before any write to stdout can
    // complete: all of them would have to be held at once.
    const script = `
      const { createLogger } = await import(${JSON.stringify(LOGGER)});
      const log = createLogger({ maxBufferedBytes: ${BOUND} });
      const filler = 'x'.repeat(${LINE_BYTES});
      for (let i = 0; i < ${LINES}; i++) log.info({ i, filler }, 'line');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { err += c; });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, err);
    const lines = out.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { msg: string; dropped?: number });
    const written = lines.filter((l) => l.msg === 'line').length;
    const warnings = lines.filter((l) => l.dropped !== undefined);
    assert.equal(warnings.length, 1, `${written} lines written, no warning about dropped ones`);
    const dropped = warnings[0]!.dropped!;
    assert.ok(dropped > 0);
    assert.equal(written + dropped, LINES);
    assert.ok(written * LINE_BYTES <= BOUND, `${written} lines of ${LINE_BYTES} bytes held`);
    assert.ok(Number.isFinite(MAX_BUFFERED_LOG_BYTES) && MAX_BUFFERED_LOG_BYTES > 0);
  });
});
