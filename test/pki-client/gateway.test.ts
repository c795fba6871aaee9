/**
 * The issuance client against a real Gatehouse (composed gateway with its CA, PKI API mounted
 * on the public HTTPS listener): bootstrap, renewal over mTLS through the gateway's listener,
 * and a revocation seen in the next trust refresh.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openAuthority, openPkiCommandContext } from '../../src/pki/commands/context.ts';
import type { CertificateAuthority } from '../../src/pki/authority.ts';
import { WorkloadIdentity } from '../../src/pki/client/workload-identity.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import type { Store } from '../../src/store/types.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';

const ID = 'spiffe://gatehouse.internal/svc/mail';

describe('workload client against a real Gatehouse', () => {
  let gw: TestGateway;
  let store: Store;
  let ca: CertificateAuthority;
  let identity: WorkloadIdentity | undefined;

  before(async () => {
    gw = await startGateway({ ratelimit: { edge: { enabled: false } } }, { compose: true });
    store = await openStoreFromConfig(gw.gateway.config);
    ca = await openAuthority(await openPkiCommandContext({ store, config: gw.gateway.config }));
  });
  after(async () => {
    await identity?.stop();
    await store?.close();
    await gw?.close();
  });

  it('bootstraps, renews over mTLS through the gateway listener, and sees a revocation in the next trust refresh', async () => {
    const gatehouseCa = await readFile(join(gw.dataDir, 'tls', 'localhost.crt'), 'utf8');
    const token = (await ca.createBootstrapToken({ spiffeId: ID })).token;
    identity = await WorkloadIdentity.start({ gatehouseUrl: gw.url, gatehouseCa, spiffeId: ID, bootstrapToken: token, lifetimeSeconds: 600, trustRefreshMs: 60_000 });
    const first = identity.material;
    assert.equal((await ca.get(first.serial))?.issuedVia, 'bootstrap');
    const renewed = await identity.rotateNow();
    assert.notEqual(renewed.serial, first.serial);
    assert.equal((await ca.get(renewed.serial))?.issuedVia, 'renewal');
    await ca.revoke({ serial: first.serial });
    const trust = await identity.refreshTrust();
    assert.equal(trust.isRevoked(first.serial), true);
    // Revoking a serial revokes the certificate renewed from it too (docs/pki.md, Revocation).
    assert.equal(trust.isRevoked(renewed.serial), true);
  });
});
