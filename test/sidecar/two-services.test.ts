/**
 * The issue's done-criterion, end to end: two services that talk to each other only through
 * mTLS, with certificates Gatehouse issued and renews — "orders" uses the SDK in process,
 * "billing" is a plain HTTP service behind `gatehouse sidecar` (a real child process) —
 * and after orders' certificate is revoked at the CA, its calls (and calls to it) are
 * refused within a minute. Lifetimes and intervals are short: 300 s certificates renewed at
 * 1 % of their life (every ~3 s), trust refreshed every second.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { WorkloadIdentity } from '../../src/pki/client/workload-identity.ts';
import type { PkiEvent } from '../../src/pki/events.ts';
import { createMtlsClient, createMtlsServer, peerOf, type MtlsClient, type MtlsServer } from '../../src/sdk/index.ts';
import { spiffe, startTestPki, type TestPki } from '../pki-client/support/gatehouse-pki.ts';
import { plainService, spawnSidecar, type SidecarProcess } from './support/helpers.ts';

const ORDERS = spiffe('svc', 'orders');
const BILLING = spiffe('sidecar', 'billing');

describe('two services talking only through mTLS with Gatehouse certificates', () => {
  let pki: TestPki;
  let base: string;
  let orders: WorkloadIdentity;
  let ordersServer: MtlsServer;
  let toBilling: MtlsClient;
  let billing: Awaited<ReturnType<typeof plainService>>;
  let sidecar: SidecarProcess;
  let billingUrl: string;
  let ordersViaSidecarUrl: string;
  const plain = new Agent({ keepAliveTimeout: 30_000 });
  const ordersEvents: PkiEvent[] = [];

  before(async () => {
    pki = await startTestPki({ backdateSeconds: 0 });
    base = await mkdtemp(join(tmpdir(), 'gatehouse-two-services-'));
    orders = await WorkloadIdentity.start({
      gatehouseUrl: pki.url, gatehouseCa: pki.gatehouseCa, spiffeId: ORDERS, bootstrapToken: await pki.token(ORDERS), dataDir: join(base, 'orders'),
      lifetimeSeconds: 300, renewAtFraction: 0.01, trustRefreshMs: 1000, onEvent: (e) => ordersEvents.push(e),
    });
    ordersServer = await createMtlsServer({ identity: orders, allowedPeers: [BILLING] }, (req, res) => res.end(`orders ok for ${peerOf(req)?.spiffeId}`));
    const ordersPort = (await ordersServer.listen(0, '127.0.0.1')).port;
    billing = await plainService('billing');

    const caFile = join(base, 'gatehouse-ca.pem');
    const tokenFile = join(base, 'billing-token');
    await writeFile(caFile, pki.gatehouseCa);
    await writeFile(tokenFile, await pki.token(BILLING), { mode: 0o600 });
    sidecar = spawnSidecar([
      '--gatehouse', pki.url, '--gatehouse-ca', caFile, '--spiffe-id', BILLING, '--bootstrap-token-file', tokenFile, '--data-dir', join(base, 'billing'),
      '--inbound', `127.0.0.1:0:${billing.port}`, '--allow-peer', ORDERS, '--http',
      '--outbound', `0:127.0.0.1:${ordersPort}:${ORDERS}`,
      '--lifetime', '300', '--renew-at', '0.01', '--trust-refresh', '1',
    ]);
    const ready = await sidecar.waitFor('sidecar listening');
    billingUrl = `https://127.0.0.1:${(ready.inbound as Array<{ port: number }>)[0]!.port}/charge`;
    ordersViaSidecarUrl = `http://127.0.0.1:${(ready.outbound as Array<{ port: number }>)[0]!.port}/order`;
    toBilling = await createMtlsClient({ identity: orders, expectedPeer: BILLING, agentOptions: { keepAliveTimeout: 30_000 } });
  });

  after(async () => {
    await toBilling?.close();
    await plain.close();
    await sidecar?.stop();
    await ordersServer?.close();
    await orders?.stop();
    await billing?.close();
    await pki?.close();
    await rm(base, { recursive: true, force: true });
  });

  /** orders → billing (SDK client → sidecar inbound → plain billing). */
  const ordersCallsBilling = async (): Promise<string> => (await (await toBilling.request(billingUrl)).body.text());
  /** billing → orders (plain client → sidecar outbound → SDK server). */
  const billingCallsOrders = async (): Promise<string> => (await (await request(ordersViaSidecarUrl, { dispatcher: plain })).body.text());

  it('call each other over mTLS while both certificates are renewed, then revoking orders gets its calls refused within a minute', async (t) => {
    const firstOrdersSerial = orders.material.serial;
    const failures: unknown[] = [];
    let calls = 0;
    // Keep calling both ways until each side has renewed at least twice.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      try {
        assert.equal(await ordersCallsBilling(), `billing ok for ${ORDERS}`);
        assert.equal(await billingCallsOrders(), `orders ok for ${BILLING}`);
        calls++;
      } catch (error) { failures.push(error); }
      const ordersRenewals = ordersEvents.filter((e) => e.type === 'pki.rotation.completed').length - 1;
      const billingRenewals = sidecar.lines.filter((l) => l.msg === 'certificate renewed').length;
      if (ordersRenewals >= 2 && billingRenewals >= 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(failures, [], 'no call failed while certificates rotated');
    assert.notEqual(orders.material.serial, firstOrdersSerial, 'orders renewed');
    assert.ok(sidecar.lines.filter((l) => l.msg === 'certificate renewed').length >= 2, 'billing\'s sidecar renewed');
    assert.ok(pki.f.events.filter((e) => e.type === 'pki.certificate.issued' && e.via === 'renewal').length >= 4, 'the CA issued the renewals');
    t.diagnostic(`${calls} round trips while orders and billing renewed their certificates`);

    // Revoke every live certificate of orders at the CA.
    const revokedAt = Date.now();
    const serials = await pki.f.ca.revoke({ spiffeId: ORDERS }, 'keyCompromise');
    assert.ok(serials.length >= 1);
    const billingSeenBefore = billing.seen.length;
    let outRefusedAt: number | undefined;
    let inRefusedAt: number | undefined;
    while ((outRefusedAt === undefined || inRefusedAt === undefined) && Date.now() - revokedAt < 60_000) {
      if (outRefusedAt === undefined) { try { await ordersCallsBilling(); } catch { outRefusedAt = Date.now(); } }
      if (inRefusedAt === undefined) { try { await billingCallsOrders(); } catch { inRefusedAt = Date.now(); } }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(outRefusedAt !== undefined, 'orders\' calls to billing are refused within a minute of the revocation');
    assert.ok(inRefusedAt !== undefined, 'billing refuses to carry calls to the revoked orders within a minute');
    t.diagnostic(`refused ${outRefusedAt - revokedAt} ms (orders → billing) and ${inRefusedAt - revokedAt} ms (billing → orders) after the revocation`);

    // And it stays refused: new connections fail the handshake at the sidecar (OpenSSL with the new CRL).
    const seenAtRefusal = billing.seen.length;
    for (let i = 0; i < 3; i++) await assert.rejects(ordersCallsBilling());
    for (let i = 0; i < 3; i++) await assert.rejects(billingCallsOrders());
    assert.equal(billing.seen.length, seenAtRefusal, 'no request of the revoked service reached billing');
    assert.ok(billing.seen.length >= billingSeenBefore);
    assert.ok(sidecar.lines.some((l) => l.msg === 'inbound connection refused' && l.code === 'ERR_PKI_PEER_CERT_REVOKED'), 'the sidecar logged the refusal');
    assert.ok(sidecar.lines.some((l) => (l.msg === 'outbound connection failed or refused' || l.msg === 'peer revoked; closing its tunnel') && l.code === 'ERR_PKI_PEER_CERT_REVOKED'));
    // orders cannot renew its way out: the CA refuses a revoked certificate.
    await assert.rejects(orders.rotateNow(), { code: 'ERR_PKI_RENEWAL_UNAUTHORIZED' });
  });
});
