/**
 * `audit query` prints records as JSON lines, usually onto the operator's terminal. A record
 * holds what clients sent: a path carrying C1 controls (U+009B is CSI on terminals that take
 * 8-bit controls), DEL or Unicode line separators must not reach the terminal raw or split a line.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { jsonLinesSink } from '../../src/audit/export/json-lines.ts';
import type { AuditRecordView } from '../../src/audit/query.ts';

describe('JSON lines output of audit records', () => {
  it('a path with a CSI sequence (U+009B), NEL, DEL and U+2028/U+2029 is written with JSON escapes only, one line, and parses back to the same record', async () => {
    const path = '/x\u009b2J\u009b31mroot\u0085\u007f\u2028\u2029\u001b[2J';
    const record = { chain: 'main', seq: 1, time: '2026-03-01T08:00:00.000Z', resource: `GET ${path}`, details: { path } } as unknown as AuditRecordView;
    let text = '';
    const sink = jsonLinesSink(new Writable({ write(c: Buffer, _e, cb) { text += c.toString('utf8'); cb(); } }));
    await sink.write([record, record]);
    await sink.close();
    assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/);
    const lines = text.split('\n');
    assert.equal(lines.length, 3);
    assert.deepEqual(JSON.parse(lines[0]!), record);
  });
});
