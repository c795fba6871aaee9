/** The runtime payload check compiled from the event table (src/bus/payload-schema.ts). */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { checkPayload, uncheckedFields } from '../../src/bus/payload-schema.ts';
import { parseEnvelope } from '../../src/bus/envelope.ts';
import { requestEvent } from './contract.ts';

it('understands the type text of every field in the event table (add a new text to payload-schema.ts)', () => {
  assert.deepEqual(uncheckedFields(), []);
});

it('refuses a number where the table documents a string, and names the field, not the value', () => {
  const result = checkPayload('gateway.request', { ...requestEvent(1), path: 1234567 });
  assert.deepEqual(result, { ok: false, problem: 'payload path: not of the documented type' });
});

it('refuses a payload missing a required field and accepts one without an optional field', () => {
  const { method: _method, ...noMethod } = requestEvent(1);
  assert.deepEqual(checkPayload('gateway.request', noMethod), { ok: false, problem: 'payload method: missing' });
  const { routeId: _routeId, ...noRoute } = requestEvent(1);
  assert.equal(checkPayload('gateway.request', noRoute).ok, true);
});

it('refuses null for an optional field, a numeric string for a number, a literal outside the union and a code that is not ERR_*', () => {
  assert.equal(checkPayload('gateway.request', { ...requestEvent(1), routeId: null }).ok, false);
  assert.equal(checkPayload('gateway.request', { ...requestEvent(1), status: '200' }).ok, false);
  const alert = { alertId: 'a', rule: 'r', severity: 'high', keyKind: 'address', key: 'k', count: 1, windowStart: 't', actions: ['alert'] };
  assert.equal(checkPayload('detect.alert', alert).ok, true);
  assert.equal(checkPayload('detect.alert', { ...alert, severity: 'critical' }).ok, false);
  assert.equal(checkPayload('detect.alert', { ...alert, actions: ['alert', 1] }).ok, false);
  assert.equal(checkPayload('pki.rotation.failed', { spiffeId: 's', code: 'rm -rf', retryInMs: 1 }).ok, false);
  assert.equal(checkPayload('authn.invalidated', { type: '__proto__' }).ok, false);
});

it('checks the fields of documented object arrays (config.rejected problems)', () => {
  assert.equal(checkPayload('config.rejected', { source: 's', problems: [{ path: 'a', message: 'b' }] }).ok, true);
  assert.equal(checkPayload('config.rejected', { source: 's', problems: [{ path: 'a' }] }).ok, false);
  assert.equal(checkPayload('config.rejected', { source: 's', problems: 'none' }).ok, false);
});

it('leaves undocumented keys out (a huge extra field, an own __proto__), at the top and inside object arrays', () => {
  const hostile = JSON.parse(`{"source":"s","problems":[{"path":"a","message":"b","blob":"${'x'.repeat(10_000)}"}],"extra":"${'y'.repeat(10_000)}","__proto__":{"isAdmin":true}}`) as unknown;
  const result = checkPayload('config.rejected', hostile);
  assert.ok(result.ok);
  assert.deepEqual(result.payload, { source: 's', problems: [{ path: 'a', message: 'b' }] });
  assert.equal(Object.getPrototypeOf(result.payload), Object.prototype);
  assert.equal((result.payload as Record<string, unknown>).isAdmin, undefined);
});

it('parseEnvelope refuses a well-formed envelope whose payload has the wrong shape, keeping its name and id for the log', () => {
  const id = '01a2023b-befd-7f98-918b-f826a8ef68fc';
  const parsed = parseEnvelope(JSON.stringify({ id, time: new Date().toISOString(), instance: 'x', name: 'detect.block.lifted', payload: { blockId: 'b1', liftedBy: 7 } }));
  assert.deepEqual(parsed, { ok: false, problem: 'payload kind: missing', id, name: 'detect.block.lifted' });
});
