/**
 * Secrets written so that a rule made for their usual spelling misses them: key names with
 * invisible characters or compatibility forms, a JWT wrapped at its dots, a return URL encoded
 * three times, a numeric one-time code in JSON text. Each is what a careless client, a wrapping
 * log line or a nested sign-in redirect produces, not only what an attacker writes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { draftFromEnvelope } from '../../src/audit/map-event.ts';
import { createRedactor, REDACTED } from '../../src/audit/redact.ts';

const redactor = createRedactor();
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
const SIG = 'dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';

describe('redaction against evasive spellings', () => {
  it('replaces the value under a secret key spelled with zero-width, soft-hyphen or other invisible characters', () => {
    for (const key of ['pass\u200Bword', 'pass\u00ADword', 'to\u200Dken', '\uFEFFsecret', 'api\u2060key', 'coo\u180Ekie']) {
      assert.deepEqual(redactor.value({ [key]: 'hunter2' }), { [key]: REDACTED }, JSON.stringify(key));
    }
  });

  it('replaces the value under a secret key written in full-width or other compatibility forms (NFKC)', () => {
    for (const key of ['ｐａｓｓｗｏｒｄ', 'ＴＯＫＥＮ', 'ｓｅｃｒｅｔ', 'api\uFF3Fkey', 'Ａｕｔｈｏｒｉｚａｔｉｏｎ']) {
      assert.deepEqual(redactor.value({ [key]: 'hunter2' }), { [key]: REDACTED }, JSON.stringify(key));
    }
    assert.deepEqual(redactor.value({ ['ｐａｓｓ']: 'x' }), { ['ｐａｓｓ']: REDACTED });
  });

  it('replaces JSON members of text whose name has invisible characters', () => {
    assert.equal(redactor.string('{"pass\u200Bword":"hunter2"}'), `{"pass\u200Bword":"${REDACTED}"}`);
  });

  it('keeps ordinary non-ASCII keys and values that are not secrets', () => {
    assert.deepEqual(redactor.value({ 'prénom': 'Zoë', '名前': 'x', 'author': 'a' }), { 'prénom': 'Zoë', '名前': 'x', 'author': 'a' });
  });

  it('cuts out a JWT wrapped or spaced at its dots (a log line folded at 80 columns, a token pasted with spaces)', () => {
    for (const text of [JWT.replaceAll('.', '.\n'), JWT.replaceAll('.', '. '), JWT.replaceAll('.', ' .'), JWT.replaceAll('.', '\r\n.\t')]) {
      const out = redactor.string(`token was ${text} end`);
      assert.ok(!out.includes(SIG), JSON.stringify(out));
      assert.ok(out.startsWith('token was ') && out.endsWith(' end'), JSON.stringify(out));
    }
  });

  it('leaves a sentence after a JWT alone', () => {
    assert.equal(redactor.string(`bad ${JWT}. Then retry.`), `bad ${REDACTED}. Then retry.`);
  });

  it('cuts the values of secret pairs in a return URL encoded three or four times (sign-in redirects nested in each other)', () => {
    const three = '/login?next=%25252Fcb%25253Fstate%25253Dabc%252526token%25253Dsecret3333%252526x%25253D1';
    const four = '/login?next=%2525252Fcb%2525253Fcode%2525253Dsecret4444';
    for (const s of [three, four]) {
      const out = redactor.string(s);
      assert.ok(!out.includes('secret3333') && !out.includes('secret4444'), out);
    }
    assert.ok(redactor.string(three).includes('x%25253D1'), 'the pair after the secret one stays');
    // Encoded names too: tok%65n encoded three times.
    assert.ok(!redactor.string('/l?n=%25252Fcb%25253Ftok%25252565n%25253Dsecret5555').includes('secret5555'));
  });

  it('cuts numeric values of secret JSON members in text (a one-time code or PIN sent as a number)', () => {
    assert.equal(redactor.string('{"otp":123456,"user":"a"}'), `{"otp":"${REDACTED}","user":"a"}`);
    assert.equal(redactor.string('{"pin": -1.5e3}'.replace('pin', 'password')), `{"password": "${REDACTED}"}`);
    assert.equal(redactor.string('{"status":200}'), '{"status":200}');
  });
});

describe('redaction of the record columns taken from an event payload', () => {
  it('redacts requestId, traceId, decisionId and clientAddress as it redacts details (an export sends columns as they are)', () => {
    const d = draftFromEnvelope({
      id: '0199c3a0-0000-7000-8000-000000000001', time: new Date().toISOString(), instance: 'gw-1', name: 'identity.login.failed',
      payload: { requestId: `req ${JWT}`, traceId: 'Bearer s3cretTrace', decisionId: 'token=s3cretDecision', clientAddress: 'https://u:s3cretAddr@h', reason: 'x' },
    }, redactor);
    const columns = JSON.stringify([d.requestId, d.traceId, d.decisionId, d.clientAddress]);
    for (const secret of [SIG, 's3cretTrace', 's3cretDecision', 's3cretAddr']) assert.ok(!columns.includes(secret), columns);
    assert.ok(!d.details.includes(SIG));
  });

  it('leaves ordinary ids and addresses as they are', () => {
    const d = draftFromEnvelope({
      id: '0199c3a0-0000-7000-8000-000000000002', time: new Date().toISOString(), instance: 'gw-1', name: 'gateway.request',
      payload: { requestId: 'req-0199c3a0', traceId: '0af7651916cd43dd8448eb211c80319c', decisionId: 'dec_01', clientAddress: '2001:db8::1', status: 200 },
    }, redactor);
    assert.deepEqual([d.requestId, d.traceId, d.decisionId, d.clientAddress], ['req-0199c3a0', '0af7651916cd43dd8448eb211c80319c', 'dec_01', '2001:db8::1']);
  });
});
