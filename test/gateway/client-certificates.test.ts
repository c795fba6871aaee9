/**
 * Client certificates as an authentication method on the public listener: a workload with a
 * certificate from Gatehouse's CA is the service named by its SPIFFE id (no account needed);
 * a certificate from another CA, a revoked one, or none at all gets no identity.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { Agent, request } from 'undici';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import { openPkiCommandContext, openAuthority } from '../../src/pki/commands/context.ts';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import type { CertificateAuthority } from '../../src/pki/authority.ts';
import type { Store } from '../../src/store/types.ts';
import { ensureDevCertificate } from '../../src/gateway/tls/dev-certificate.ts';

const TD = 'gatehouse.internal';
const CALLER = `spiffe://${TD}/svc/reporting`;

describe('client certificates on the public listener', () => {
  let gw: TestGateway;
  let app: TestUpstream;
  let store: Store;
  let ca: CertificateAuthority;
  let agent: Agent;
  let serial: string;
  let credentials: { cert: string; key: string };

  async function callerAgent(): Promise<Agent> {
    const { keyPem, csrPem } = await generateKeyAndCsr(CALLER);
    const issued = await ca.issue({ csr: csrPem, spiffeId: CALLER });
    serial = issued.serial;
    credentials = { cert: issued.chainPem, key: keyPem };
    return new Agent({ connect: { ...credentials, rejectUnauthorized: false } });
  }

  before(async () => {
    app = await startUpstream();
    gw = await startGateway({
      ratelimit: { edge: { enabled: false } },
      pki: { crl: { refreshIntervalSeconds: 1 } },
      upstreams: { app: { url: app.url } },
      routes: [{ id: 'reports', path: '/reports', upstream: 'app', access: 'authenticated', authentication: { methods: ['mtls'] } }],
    }, { compose: true });
    store = await openStoreFromConfig(gw.gateway.config);
    ca = await openAuthority(await openPkiCommandContext({ store, config: gw.gateway.config }));
    agent = await callerAgent();
  });
  after(async () => { await agent.close(); await store.close(); await gw.close(); await app.close(); });

  const get = async (dispatcher: Agent | undefined) => {
    const res = await request(`${gw.url}/reports/x`, { dispatcher: dispatcher ?? new Agent({ connect: { rejectUnauthorized: false } }) });
    return { status: res.statusCode, body: await res.body.text() };
  };

  it('authenticates a workload certificate from Gatehouse\'s CA as the service named by its SPIFFE id', async () => {
    const res = await get(agent);
    assert.equal(res.status, 200, res.body);
    const assertion = String(app.received.at(-1)!.headers['x-gatehouse-identity']);
    const claims = JSON.parse(Buffer.from(assertion.split('.')[1]!, 'base64url').toString()) as { sub: string; kind: string; auth_method: string };
    assert.deepEqual({ sub: claims.sub, kind: claims.kind, method: claims.auth_method }, { sub: CALLER, kind: 'service', method: 'mtls' });
  });

  it('refuses a client certificate signed by another CA', async () => {
    const rogue = await ensureDevCertificate(`${gw.dataDir}/rogue`);
    const res = await get(new Agent({ connect: { cert: rogue.cert, key: rogue.key, rejectUnauthorized: false } }));
    assert.equal(res.status, 401);
    assert.equal(JSON.parse(res.body).error.code, 'ERR_AUTHN_CLIENT_CERT_INVALID');
  });

  it('refuses a request without any client certificate on an mTLS-only route', async () => {
    const res = await get(undefined);
    assert.equal(res.status, 401);
  });

  it('refuses a certificate revoked while its keep-alive connection is open, on that same connection, once the CRL has been refreshed', async () => {
    const id = `spiffe://${TD}/svc/keep-alive`;
    const { keyPem, csrPem } = await generateKeyAndCsr(id);
    const issued = await ca.issue({ csr: csrPem, spiffeId: id });
    // One socket, kept open: every request below must travel on the connection verified first.
    const keepAlive = new HttpsAgent({ keepAlive: true, maxSockets: 1, cert: issued.chainPem, key: keyPem, rejectUnauthorized: false });
    const onSameConnection = () => new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
      const req = httpsRequest(`${gw.url}/reports/x`, { agent: keepAlive }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
      });
      req.on('error', reject);
      req.end();
    });
    try {
      assert.equal((await onSameConnection()).status, 200);
      await ca.revoke({ serial: issued.serial }, 'keyCompromise');
      let last = { status: 0, reused: false };
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        last = await onSameConnection();
        if (last.status !== 200) break;
        // Well inside limits.keepAliveTimeoutMs, so the connection stays open.
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(last.status, 401, 'revoked certificate still accepted on its open connection after 15 s');
      assert.equal(last.reused, true, 'the refused request did not travel on the already verified connection');
    } finally {
      keepAlive.destroy();
    }
  });

  it('refuses a revoked certificate on new connections once the CRL has been refreshed', async () => {
    await ca.revoke({ serial }, 'keyCompromise');
    let status = 0;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      // A new connection each time: the certificate is verified per connection.
      const fresh = new Agent({ connect: { ...credentials, rejectUnauthorized: false } });
      status = (await get(fresh)).status;
      await fresh.close();
      if (status === 401) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(status, 401, 'revoked certificate still accepted after 15 s');
  });
});
