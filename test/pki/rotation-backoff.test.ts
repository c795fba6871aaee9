/**
 * A rotator whose certificate has already expired while the CA keeps failing backs off
 * instead of retrying every 100 ms forever.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatehouseError } from '../../src/core/errors.ts';
import type { PkiEvent } from '../../src/pki/events.ts';
import { CertificateRotator } from '../../src/pki/mtls/rotator.ts';

type Failed = Extract<PkiEvent, { type: 'pki.rotation.failed' }>;

describe('certificate rotator after expiry', () => {
  it('keeps doubling its retry delay once the certificate has expired (no 100 ms loop against a failing CA)', async () => {
    const failures: Failed[] = [];
    let calls = 0;
    let twoFailures!: () => void;
    const done = new Promise<void>((resolve) => { twoFailures = resolve; });
    const rotator = new CertificateRotator({
      spiffeId: 'spiffe://test.gatehouse/gateway/edge',
      retryMs: 200,
      obtain: async () => {
        calls++;
        // First: a certificate that is already expired (a long outage); then the CA is down.
        if (calls === 1) return { chainPem: '', spiffeId: 'spiffe://test.gatehouse/gateway/edge', serial: '1', notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) };
        throw new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'store down' });
      },
      onRotate: () => {},
      onEvent: (e) => {
        if (e.type !== 'pki.rotation.failed') return;
        failures.push(e);
        if (failures.length === 2) twoFailures();
      },
    });
    try {
      await rotator.start();
      await done;
    } finally {
      rotator.stop();
    }
    assert.deepEqual(failures.map((f) => f.retryInMs), [200, 400]);
  });
});
