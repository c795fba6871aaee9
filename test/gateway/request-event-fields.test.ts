/**
 * The `gateway.request` bus event says which issuer vouched for the principal: detection and
 * other subscribers key on the principal id, and an operator reading an event needs to see
 * whether "alice" came from Gatehouse's own tokens or from an external issuer's. It also says
 * why a request target was refused (a fixed name and an offset, never the target), and fits
 * the documented schema for a head Node's parser refused (no method, no path).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { platformExtension, type Platform } from '../../src/gateway/extensions/platform.ts';
import type { RequestContext } from '../../src/gateway/context.ts';
import type { GatewayRequestEvent } from '../../src/core/events.ts';
import { GatehouseError } from '../../src/core/errors.ts';
import { normalizePath } from '../../src/gateway/router/normalize-path.ts';
import { checkPayload } from '../../src/bus/payload-schema.ts';

function capture(wanted = true): { platform: Platform; published: GatewayRequestEvent[] } {
  const published: GatewayRequestEvent[] = [];
  const bus = {
    wants: (name: string) => wanted && name === 'gateway.request',
    publish: (name: string, payload: GatewayRequestEvent) => { if (name === 'gateway.request') published.push(payload); },
  };
  return { platform: { bus } as unknown as Platform, published };
}

const ctx = (identity?: { subject: string; issuer?: string }) => ({
  requestId: 'r1', trace: { traceId: 't1' }, method: 'GET', path: '/mail', clientAddress: '203.0.113.7', stage: 'forward',
  bytesIn: 0, bytesOut: 2, route: { id: 'mail' }, identity: identity && { kind: 'user', roles: [], ...identity },
}) as unknown as RequestContext;

it('an authenticated request\'s event names the principal and the issuer of its credential', () => {
  const { platform, published } = capture();
  const ext = platformExtension(platform);
  ext.onRequest!(ctx({ subject: 'https://idp.example.com#alice', issuer: 'https://idp.example.com' }), 200, 1.5);
  assert.equal(published[0]!.subject, 'https://idp.example.com#alice');
  assert.equal(published[0]!.issuer, 'https://idp.example.com');
});

it('a credential without an issuer (session, API token, mTLS) and an anonymous request add no issuer field', () => {
  const { platform, published } = capture();
  const ext = platformExtension(platform);
  ext.onRequest!(ctx({ subject: 'usr_alice' }), 200, 1);
  ext.onRequest!(ctx(), 404, 1);
  assert.equal(published[0]!.subject, 'usr_alice');
  assert.equal('issuer' in published[0]!, false);
  assert.equal('subject' in published[1]!, false);
  assert.equal('issuer' in published[1]!, false);
});

it('with nobody on the bus wanting gateway.request (detection off), the request path does not build or publish it', () => {
  const { platform, published } = capture(false);
  const ext = platformExtension(platform);
  ext.onRequest!(ctx({ subject: 'usr_alice' }), 200, 1);
  assert.equal(published.length, 0);
});

it('a refused request target\'s event names the reason and offset (never the target), and the bus\'s payload check keeps both', () => {
  const { platform, published } = capture();
  const ext = platformExtension(platform);
  let error: unknown;
  try { normalizePath('/mail/%2e%2e/%2e%2e/etc/passwd?token=s3cret'); } catch (err) { error = err; }
  ext.onRequest!({ ...ctx(), path: '', route: undefined, stage: 'route', error } as unknown as RequestContext, 400, 0.2);
  assert.deepEqual([published[0]!.errorCode, published[0]!.pathRefusal, published[0]!.pathOffset], ['ERR_REQUEST_PATH_INVALID', 'above-root', 19]);
  assert.doesNotMatch(JSON.stringify(published[0]), /passwd|s3cret/);
  const checked = checkPayload('gateway.request', published[0]);
  assert.ok(checked.ok);
  assert.deepEqual([checked.payload.pathRefusal, checked.payload.pathOffset], ['above-root', 19]);
});

it('a head Node\'s parser refused (no method, no path) publishes an event the bus\'s payload check accepts, without path refusal fields', () => {
  const { platform, published } = capture();
  const ext = platformExtension(platform);
  ext.onRequest!({ ...ctx(), method: '', path: '', route: undefined, stage: 'parse', error: new GatehouseError('ERR_REQUEST_SMUGGLING') } as unknown as RequestContext, 400, 0.1);
  assert.equal(checkPayload('gateway.request', published[0]).ok, true);
  assert.deepEqual([published[0]!.method, published[0]!.path, published[0]!.stage, 'pathRefusal' in published[0]!], ['', '', 'parse', false]);
});
