/**
 * createMtlsClient at a trust update: a pooled (keep-alive) connection is judged again with
 * the whole peer check, so it does not outlive the server certificate's expiry.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import { createMtlsClient, type MtlsClient } from '../../src/sdk/index.ts';
import { spiffe, startTestPki, type TestPki } from '../pki-client/support/gatehouse-pki.ts';

const API = spiffe('svc', 'api');
const STORE = spiffe('svc', 'store');

describe('SDK mTLS client: pooled connections at a trust update', () => {
  let pki: TestPki;
  let base: string;
  let server: Server;
  let client: MtlsClient;
  let serverNotAfter: Date;
  const sockets: Socket[] = [];

  before(async () => {
    pki = await startTestPki();
    base = await mkdtemp(join(tmpdir(), 'gatehouse-sdk-recheck-'));
    // The server's certificate: issued "298 s ago" with the shortest lifetime, so it is valid
    // now and expires two seconds from now.
    const key = await generateKeyAndCsr(STORE);
    pki.f.setNow(new Date(Date.now() - 298_000));
    const issued = await pki.f.ca.issue({ csr: key.csrPem, spiffeId: STORE, lifetimeSeconds: 300 });
    pki.f.setNow(new Date());
    serverNotAfter = issued.notAfter;
    server = createServer({ key: key.keyPem, cert: issued.chainPem, keepAliveTimeout: 60_000 }, (_req, res) => res.end('ok'));
    server.on('secureConnection', (s: Socket) => sockets.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = await createMtlsClient({
      gatehouseUrl: pki.url, gatehouseCa: pki.gatehouseCa, spiffeId: API, bootstrapToken: await pki.token(API),
      dataDir: join(base, 'api'), trustRefreshMs: 60_000, expectedPeer: STORE,
    });
  });
  after(async () => {
    await client?.close();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => { if (server) server.close(() => resolve()); else resolve(); });
    await pki?.close();
    await rm(base, { recursive: true, force: true });
  });

  it('closes a pooled connection to a server whose certificate expired while it was open', async () => {
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const res = await client.request(url);
    assert.equal(await res.body.text(), 'ok');
    assert.equal(sockets.length, 1);
    const closed = new Promise<void>((resolve) => sockets[0]!.once('close', () => resolve()));
    let isClosed = false;
    void closed.then(() => { isClosed = true; });

    while (Date.now() <= serverNotAfter.getTime() + 1000) await sleep(200);
    // A new CRL (any revocation) is what makes the workload hand new trust to its clients.
    const other = await generateKeyAndCsr(spiffe('svc', 'other'));
    const bump = await pki.f.ca.issue({ csr: other.csrPem, spiffeId: spiffe('svc', 'other') });
    await pki.f.ca.revoke({ serial: bump.serial });
    while (!client.identity.trust.isRevoked(bump.serial)) await client.identity.refreshTrust();
    await sleep(300);
    assert.ok(isClosed, 'the pooled connection to the expired server is closed');
  });
});
