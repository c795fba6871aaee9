/**
 * Key names a person reads as a secret's name but a rule written for the ASCII spelling missed:
 * look-alike letters of other scripts, separators inside the word, and those mixed with the
 * compatibility forms and invisible characters of redact-evasion.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRedactor, REDACTED } from '../../src/audit/redact.ts';

const redactor = createRedactor();
const redacted = (key: string) => assert.deepEqual(redactor.value({ [key]: 'hunter2', user: 'alice' }), { [key]: REDACTED, user: 'alice' }, JSON.stringify(key));

describe('secret key names in disguise', () => {
  it('a password under a key spelled with a Cyrillic or Greek look-alike letter ("pаssword", "tоken", "ѕecret", "αpi_key") is redacted', () => {
    for (const key of ['p\u0430ssword', 't\u043Eken', '\u0455ecret', '\u03B1pi_key', 'PASSW\u041ERD', 'c\u043E\u043Ekie', 'auth\u043Erization', '\u0440wd']) redacted(key);
  });

  it('a password under a key split by separators ("pass_word", "Pass-Word", "PASS.WORD", "api key") is redacted', () => {
    for (const key of ['pass_word', 'Pass-Word', 'PASS.WORD', 'pass word', 'api key', 'to_ken', 'Client-Sec-ret', 'o_t_p', 'x_auth']) redacted(key);
  });

  it('a password under a key mixing the disguises (full-width, zero-width, look-alike, separator) is redacted', () => {
    for (const key of ['ｐａｓｓ_\u200Bｗ\u043Erd', 'P\u0430ss-\u00ADWord', 'Ａｐｉ－Ｋｅｙ']) redacted(key);
  });

  it('ordinary keys stay readable when folded (token kinds and ids, authors, words that only contain a short name)', () => {
    const plain = { token_kind: 'api', 'Token-Type': 'Bearer', token_id: 'tok_1', author: 'bob', auth_method: 'jwt', monkey: 'm', my_key: 'k', 'user-agent': 'curl', 'пароль_сброшен': 'да', 'x-request-id': 'r1', 'pass_through': true };
    assert.deepEqual(redactor.value(plain), plain);
  });

  it('extra key rules from configuration are also matched against the folded name', () => {
    const r = createRedactor({ keys: ['^ssn$'] });
    assert.deepEqual(r.value({ 'S\u0405N': '078-05-1120', 's_s_n': '1' }), { 'S\u0405N': REDACTED, 's_s_n': REDACTED });
  });
});
