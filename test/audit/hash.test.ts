/**
 * The chain hash input is RFC 8785 canonical JSON: the fast writer agrees with the reference
 * implementation, and so does the writer's one-serialization path (draft JSON spliced with chain
 * and prevHash).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalDraftJson, canonicalHashInput, hashInput, linkedHash, recordHash } from '../../src/audit/hash.ts';
import { draftFromEnvelope } from '../../src/audit/map-event.ts';
import { createRedactor } from '../../src/audit/redact.ts';

const base = {
  chain: 'main', prevHash: '0'.repeat(64), time: 1_790_000_000_123, instance: 'gw-1', event: 'gateway.request', eventId: '0199c3a0-0000-7000-8000-000000000001',
  requestId: 'r1', traceId: null, actor: 'alice', actorKind: 'user', action: 'gateway.request', resource: 'route:inbox GET /', outcome: 'success' as const,
  decisionId: null, reasons: null, clientAddress: '192.0.2.1', details: '{}',
};

describe('audit hash input', () => {
  const hostile = ['', '"quoted" \\ back', '\u0000\u001f\u007f', 'line\u2028sep\u2029', 'é€😀', '</script>', '__proto__', '\ud83d\ude00', 'a'.repeat(5000)];
  for (const value of hostile) {
    it(`equals the reference canonicalization for ${JSON.stringify(value.slice(0, 20))}`, () => {
      const r = { ...base, actor: value, details: JSON.stringify({ v: value }), resource: value };
      assert.equal(hashInput(r), canonicalHashInput(r));
    });
  }

  it('sorts keys by UTF-16 code units and ends with the version (RFC 8785)', () => {
    const text = hashInput(base);
    assert.equal(text, canonicalHashInput(base));
    assert.match(text, /^\{"action":"gateway.request","actor":"alice","actorKind":"user","chain":"main",/);
    assert.match(text, /,"traceId":null,"v":1\}$/);
  });

  it('changes the hash when any field changes, including prevHash', () => {
    const h = recordHash(base);
    for (const [k, v] of Object.entries({ actor: 'mallory', time: base.time + 1, prevHash: '1'.repeat(64), details: '{"a":1}', outcome: 'denied', traceId: 'x' })) {
      assert.notEqual(recordHash({ ...base, [k]: v }), h, k);
    }
  });

  const { chain: _c, prevHash: _p, ...draft } = base;
  const mimics = [',"clientAddress":"x"', ',"reasons":null', '","chain":"forged', '\\","clientAddress":', ',"prevHash":"' + 'f'.repeat(64), '\\'];
  for (const value of [...hostile, ...mimics]) {
    it(`splices chain and prevHash into the draft JSON exactly where the reference puts them, for ${JSON.stringify(value.slice(0, 24))} in every string field`, () => {
      const d = { ...draft, action: value, actor: value, actorKind: value, clientAddress: value, decisionId: value, details: JSON.stringify({ v: value }), reasons: JSON.stringify([value]), resource: value, requestId: value, traceId: value, instance: value, event: value };
      const text = canonicalDraftJson(d);
      assert.ok(text !== undefined);
      assert.deepEqual(JSON.parse(text), d, 'the spool line parses back to the same draft');
      for (const chain of ['main', 'a"b']) {
        assert.equal(linkedHash(text, chain, base.prevHash), recordHash({ ...d, chain, prevHash: base.prevHash }));
      }
    });
  }

  it('leaves drafts outside the flat shape (lone surrogate, fractional time) to the general path', () => {
    assert.equal(canonicalDraftJson({ ...draft, actor: 'x\ud800' }), undefined);
    assert.equal(canonicalDraftJson({ ...draft, time: 1.5 }), undefined);
  });

  it('makes a lone surrogate from a hostile payload well-formed before hashing, so one event cannot poison the chain', () => {
    const draft = draftFromEnvelope({ id: base.eventId, time: new Date().toISOString(), instance: 'gw', name: 'gateway.request', payload: { subject: 'x\ud800y', path: '/\udfff', status: 200 } }, createRedactor());
    assert.ok(draft.actor!.isWellFormed() && draft.resource!.isWellFormed());
    assert.equal(typeof recordHash({ ...draft, chain: 'main', prevHash: base.prevHash }), 'string');
  });
});
