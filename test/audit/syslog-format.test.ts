/**
 * RFC 5424 framing of exported records against hostile field values: what a record carries
 * (a request id from any component's event, an instance name, redacted details) must not end
 * the structured data early, add parameters or elements, or put a line break into the message
 * for a receiver that writes what it gets to a line-oriented file.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatSyslog } from '../../src/audit/export/syslog.ts';
import type { AuditRecordView } from '../../src/audit/query.ts';

function view(overrides: Partial<AuditRecordView>): AuditRecordView {
  return {
    chain: 'main', seq: 7, time: '2026-03-01T08:00:00.000Z', instance: 'gw-1', event: 'identity.login.failed', eventId: '0199c3a0-0000-7000-8000-000000000001',
    requestId: 'req-1', traceId: null, actor: { subject: 'alice', kind: 'account' }, action: 'identity.login.failed', resource: null, outcome: 'failure',
    decisionId: null, reasons: null, clientAddress: '203.0.113.7', details: {}, prevHash: '0'.repeat(64), hash: 'a'.repeat(64), ...overrides,
  };
}

/** The SD-ELEMENTs of a message (RFC 5424 §6.3), parsed strictly: [id, [name, value][]][] and where MSG starts. */
function structuredData(msg: string): { elements: [string, [string, string][]][]; rest: string } {
  // HEADER: PRI VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID, then SP.
  let at = 0;
  for (let i = 0; i < 6; i++) at = msg.indexOf(' ', at) + 1;
  const elements: [string, [string, string][]][] = [];
  while (msg[at] === '[') {
    const start = at;
    const idEnd = msg.slice(at + 1).search(/[ \]]/) + at + 1;
    const params: [string, string][] = [];
    at = idEnd;
    while (msg[at] === ' ') {
      const eq = msg.indexOf('="', at);
      const name = msg.slice(at + 1, eq);
      let value = '';
      let p = eq + 2;
      for (; msg[p] !== '"'; p++) {
        if (p >= msg.length) throw new Error('unterminated PARAM-VALUE');
        if (msg[p] === '\\' && '"\\]'.includes(msg[p + 1]!)) p++;
        value += msg[p];
      }
      params.push([name, value]);
      at = p + 1;
    }
    assert.equal(msg[at], ']', 'SD-ELEMENT closed where its params end');
    elements.push([msg.slice(start + 1, idEnd), params]);
    at += 1;
  }
  return { elements, rest: msg.slice(at) };
}

describe('syslog export framing', () => {
  const requestId = 'r1"] [evil@1 admin="yes"]\\\n<14>1 2026-03-01T08:00:00Z forged app - - - you were hacked\u0000\u0085\u2028';

  it('keeps a request id carrying quotes, brackets, backslashes, CR/LF, NUL and Unicode line separators inside its one PARAM-VALUE', () => {
    const msg = formatSyslog(view({ requestId }), { appName: 'gatehouse', facility: 13 });
    const { elements } = structuredData(msg);
    assert.deepEqual(elements.map(([id]) => id), ['gatehouse@32473']);
    const params = Object.fromEntries(elements[0]![1]);
    assert.deepEqual(Object.keys(params), ['chain', 'seq', 'outcome', 'hash', 'requestId']);
    assert.ok(params.requestId!.startsWith('r1"] [evil@1 admin="yes"]\\'));
  });

  it('writes no control character and no line or paragraph separator anywhere in the message, whatever the record holds', () => {
    const msg = formatSyslog(view({ requestId, instance: 'gw\n1', event: 'x\ny', details: { note: 'a\u0085b\u2028c\u2029d\u007fe\u0000f\r\ng' }, actor: { subject: 'm\u2028allory', kind: null } }), { appName: 'gatehouse', facility: 13 });
    assert.doesNotMatch(msg, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    // The message is still the record: its JSON parses back to the same values.
    const body = JSON.parse(msg.slice(msg.indexOf('\uFEFF') + 1)) as AuditRecordView;
    assert.deepEqual(body.details, { note: 'a\u0085b\u2028c\u2029d\u007fe\u0000f\r\ng' });
    assert.equal(body.actor.subject, 'm\u2028allory');
  });
});
