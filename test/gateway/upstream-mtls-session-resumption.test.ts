/**
 * The gateway's mTLS pools to upstreams and TLS session resumption. Node skips
 * `checkServerIdentity` on a resumed session and OpenSSL does not verify the certificate of a
 * resumed session again, so a connection that resumes a cached session is never judged:
 * not its SPIFFE id, not its validity. Every connection to an upstream must be a full handshake.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { upstreamSchema } from '../../src/core/config/gateway-schema.ts';
import { buildPools, destroyPools, type UpstreamPools, type WorkloadTls } from '../../src/gateway/upstream/pools.ts';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import type { TlsMaterial } from '../../src/pki/mtls/tls-material.ts';
import type { TrustStore } from '../../src/pki/trust-store.ts';
import { caFixture, TRUST_DOMAIN, type CaFixture } from '../pki/support/ca-fixture.ts';
import { startGuardedServer, type GuardedServer } from '../pki/support/mtls-server.ts';

const GATEWAY = `spiffe://${TRUST_DOMAIN}/gateway/gatehouse`;
const MAIL = `spiffe://${TRUST_DOMAIN}/svc/mail`;

async function material(f: CaFixture, spiffeId: string, lifetimeSeconds?: number): Promise<TlsMaterial> {
  const { keyPem, csrPem } = await generateKeyAndCsr(spiffeId);
  const issued = await f.ca.issue({ csr: csrPem, spiffeId, ...(lifetimeSeconds ? { lifetimeSeconds } : {}) });
  return { keyPem, chainPem: issued.chainPem, spiffeId, serial: issued.serial, notBefore: issued.notBefore, notAfter: issued.notAfter };
}

describe('gateway mTLS pools and TLS session resumption', () => {
  let f: CaFixture;
  let upstream: GuardedServer;
  let pools: UpstreamPools;
  let upstreamCert: TlsMaterial;

  before(async () => {
    f = await caFixture();
    const trust: TrustStore = await f.ca.currentTrust();
    const gateway = await material(f, GATEWAY);
    // The upstream's certificate runs out 5 s from now (the CA's clock set back to make it so).
    f.setNow(new Date(Date.now() - 295_000));
    upstreamCert = await material(f, MAIL, 300);
    f.setNow(new Date());
    upstream = await startGuardedServer({ material: upstreamCert, trust, policy: { allowedSpiffeIds: [GATEWAY] } });
    const workload: WorkloadTls = { material: () => gateway, trust: () => trust, onTrustChange: () => () => {} };
    pools = buildPools({ mail: upstreamSchema.parse({ url: `https://127.0.0.1:${upstream.port}`, tls: { spiffeId: MAIL } }) }, undefined, workload).pools;
  });
  after(async () => { await destroyPools(pools.values()); await upstream?.close(); await f?.cleanup(); });

  /** One request on a connection of its own (closed after it). */
  async function call(): Promise<number> {
    const res = await pools.get('mail')!.pool.request({ method: 'GET', path: '/probe', reset: true });
    await res.body.text();
    return res.statusCode;
  }

  it('refuses an upstream whose certificate expired since the last connection, also when its TLS session could be resumed', async () => {
    assert.equal(await call(), 200);
    await sleep(Math.max(0, upstreamCert.notAfter.getTime() - Date.now()) + 1_500);
    await assert.rejects(call(), /CERT_HAS_EXPIRED|ERR_PKI_PEER_CERT_EXPIRED|certificate has expired/);
    assert.equal(upstream.handled.length, 1, 'the expired upstream got no request');
  });
});
