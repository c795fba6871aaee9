import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { generateRequestId, REQUEST_ID_PATTERN, resolveRequestId } from '../../src/gateway/http/request-id.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('resolveRequestId', () => {
  test('keeps a well-formed id from a trusted peer', () => {
    assert.equal(resolveRequestId('lb-7f3a9c21e4', true), 'lb-7f3a9c21e4');
    assert.equal(resolveRequestId('1-67891233-abcdef012345678912345678', true), '1-67891233-abcdef012345678912345678');
  });

  test('replaces a well-formed id chosen by an untrusted client', () => {
    const id = resolveRequestId('lb-7f3a9c21e4', false);
    assert.notEqual(id, 'lb-7f3a9c21e4');
    assert.match(id, UUID);
  });

  test('replaces malformed ids from a trusted peer: log injection, too short, too long, repeated', () => {
    for (const incoming of ['abc', 'x'.repeat(129), 'id-12345678\r\nlevel=admin', 'id 12345678', 'id-12345678"}', 'a=12345678', 'é-12345678']) {
      assert.match(resolveRequestId(incoming, true), UUID, JSON.stringify(incoming));
    }
    assert.match(resolveRequestId(['lb-7f3a9c21e4', 'lb-7f3a9c21e5'], true), UUID);
    assert.match(resolveRequestId('lb-7f3a9c21e4, lb-7f3a9c21e5', true), UUID);
    assert.match(resolveRequestId(undefined, true), UUID);
  });

  test('generated ids are time-ordered v7 UUIDs carrying the current millisecond (append-only in the audit log\'s request-id index)', () => {
    const before = Date.now();
    const ids = Array.from({ length: 2_000 }, generateRequestId);
    const after = Date.now();
    for (const id of ids) {
      const ms = parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
      assert.ok(ms >= before && ms <= after, `${id} carries ${ms}, not within [${before}, ${after}]`);
    }
    const firstMs = (id: string) => id.slice(0, 13);
    for (let i = 1; i < ids.length; i++) assert.ok(firstMs(ids[i]!) >= firstMs(ids[i - 1]!), 'timestamps never go backwards');
    // 74 random bits after the timestamp: ids of the same millisecond still differ there.
    assert.equal(new Set(ids.map((id) => id.slice(14))).size, ids.length);
  });

  test('generated ids are unique and match the accepted grammar', () => {
    const ids = new Set(Array.from({ length: 10_000 }, generateRequestId));
    assert.equal(ids.size, 10_000);
    for (const id of [...ids].slice(0, 100)) assert.match(id, REQUEST_ID_PATTERN);
  });
});
