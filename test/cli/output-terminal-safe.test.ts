/**
 * Attacker-typed values (a user name, a blocked principal, a client id) shown by `--json` or in a
 * table must not drive the operator's terminal: C1 controls (U+009B is CSI), DEL, line
 * separators and bidirectional overrides come out as escapes or `?`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cell, terminalSafeJson } from '../../src/cli/output.ts';

const hostile = 'alice\u009b2J\u007f\u2028\u202egpj.exe\u2066x';
const raw = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('CLI output of attacker-typed values', () => {
  it('--json output with a C1 CSI, DEL, U+2028 or a bidi override in a stored name writes them as \\u escapes that parse back to the same value', () => {
    const text = terminalSafeJson({ subject: hostile, list: [hostile] }, 2);
    assert.doesNotMatch(text, raw);
    assert.match(text, /\\u009b/);
    assert.deepEqual(JSON.parse(text), { subject: hostile, list: [hostile] });
  });

  it('a table cell with a bidi override cannot make a name read as another', () => {
    assert.doesNotMatch(cell(hostile), raw);
    assert.equal(cell('plain-name_1'), 'plain-name_1');
  });
});
