/**
 * followClientCaBundle swaps the listener's context only when the trusted roots change: a CA
 * refresh that brings only a new CRL (every few minutes, at each revocation) must leave the
 * context, and with it the session ticket key and every client's resumption, alone.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { followClientCaBundle } from '../../src/gateway/tls/client-ca-names.ts';
import type { GatewayExtension } from '../../src/gateway/gateway.ts';

function fakeCa(initial: string) {
  let bundle = initial;
  const listeners = new Set<() => void>();
  const extension: GatewayExtension = {
    name: 'pki',
    clientCaBundle: () => bundle,
    onClientCaBundleChange(listener) { listeners.add(listener); return () => { listeners.delete(listener); }; },
  };
  return { extension, refresh(next: string) { bundle = next; for (const l of listeners) l(); } };
}

describe('followClientCaBundle', () => {
  it('applies a changed bundle once, and ignores refreshes that leave the roots as they are', () => {
    const ca = fakeCa('root-a');
    let current = 'root-a';
    const applied: string[] = [];
    const stop = followClientCaBundle([{ name: 'other' }, ca.extension], () => current, (b) => { applied.push(b); current = b; });
    ca.refresh('root-a');
    ca.refresh('root-a+root-b');
    ca.refresh('root-a+root-b');
    assert.deepEqual(applied, ['root-a+root-b']);
    stop();
    ca.refresh('root-b');
    assert.deepEqual(applied, ['root-a+root-b'], 'followed after stop');
  });

  it('keeps the names it has when the CA yields an empty bundle', () => {
    const ca = fakeCa('root-a');
    const applied: string[] = [];
    followClientCaBundle([ca.extension], () => 'root-a', (b) => applied.push(b));
    ca.refresh('');
    assert.deepEqual(applied, []);
  });
});
