/** The CLI's own parts without a subprocess: stdin password reading and table rendering. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { readSecretFromStdin, generatePassword } from '../../src/cli/secret-input.ts';
import { cell, formatTable } from '../../src/cli/output.ts';
import { collect, positiveInt } from '../../src/cli/options.ts';

const stdin = (...chunks: (string | Buffer)[]) => Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));

describe('readSecretFromStdin', () => {
  it('removes exactly one trailing line break and keeps spaces', async () => {
    assert.equal(await readSecretFromStdin(stdin('  pass phrase  \n')), '  pass phrase  ');
    assert.equal(await readSecretFromStdin(stdin('crlf line\r\n')), 'crlf line');
    assert.equal(await readSecretFromStdin(stdin('split ', 'in chunks')), 'split in chunks');
  });

  it('refuses empty input, a second line and invalid UTF-8 (overlong encoding)', async () => {
    await assert.rejects(readSecretFromStdin(stdin('')), { code: 'ERR_ADMIN_INPUT_INVALID', publicMessage: 'No password on stdin' });
    await assert.rejects(readSecretFromStdin(stdin('\n')), { code: 'ERR_ADMIN_INPUT_INVALID' });
    await assert.rejects(readSecretFromStdin(stdin('first\nsecond\n')), { publicMessage: 'Password on stdin must be one line' });
    await assert.rejects(readSecretFromStdin(stdin(Buffer.from([0x70, 0xc0, 0xaf, 0x71]))), { publicMessage: 'Password on stdin is not valid UTF-8' });
  });

  it('refuses an endless stream instead of buffering it', async () => {
    const endless = new Readable({ read() { this.push(Buffer.alloc(1024, 0x61)); } });
    await assert.rejects(readSecretFromStdin(endless), { code: 'ERR_ADMIN_INPUT_INVALID' });
  });

  it('generates distinct 24-character URL-safe passwords', () => {
    const a = generatePassword();
    assert.match(a, /^[A-Za-z0-9_-]{24}$/);
    assert.notEqual(a, generatePassword());
  });
});

describe('table output', () => {
  it('a stored value with terminal escape sequences cannot rewrite the operator\'s terminal', () => {
    assert.equal(cell('evil\u001b[2J\u001b]0;pwned\u0007name\r\n'), 'evil?[2J?]0;pwned?name??');
    assert.equal(cell('\u009b31m'), '?31m');
  });

  it('aligns columns, renders lists, booleans and absent values', () => {
    const rows = [{ a: 'x', b: ['r1', 'r2'], c: true }, { a: 'longer', b: [], c: undefined }];
    assert.equal(formatTable(rows, [{ header: 'a', value: (r) => r.a }, { header: 'roles', value: (r) => r.b }, { header: 'on', value: (r) => r.c }]),
      'A       ROLES  ON\nx       r1,r2  yes\nlonger  -      -');
    assert.equal(formatTable([], [{ header: 'a', value: () => 1 }]), '(none)');
  });
});

describe('option parsers', () => {
  it('collects repeated and comma-separated values', () => {
    assert.deepEqual(collect('c', collect('a, b', undefined)), ['a', 'b', 'c']);
  });

  it('accepts only positive integers (no 1e400, -3, 0x10)', () => {
    assert.equal(positiveInt('30'), 30);
    for (const bad of ['0', '-3', '1e400', '0x10', '3.5', '', '99999999999']) assert.throws(() => positiveInt(bad), { code: 'commander.invalidArgument' });
  });
});
