/**
 * `gatehouse sidecar` for a service in any language: a plain service behind an inbound
 * sidecar is reachable only over mTLS from an allowed peer; an outbound sidecar lets a plain
 * client reach an mTLS service and verifies that service's SPIFFE id. Real sockets and TLS,
 * certificates from a real HTTPS "Gatehouse"; one suite runs the actual CLI as a process.
 */
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { WorkloadIdentity } from '../../src/pki/client/workload-identity.ts';
import { createMtlsClient, createMtlsServer, peerOf, type MtlsServer } from '../../src/sdk/index.ts';
import { startSidecar, type Sidecar } from '../../src/sidecar/sidecar.ts';
import { parseInbound, parseOutbound } from '../../src/sidecar/specs.ts';
import { openssl } from '../pki/support/openssl.ts';
import { spiffe, startTestPki, type TestPki } from '../pki-client/support/gatehouse-pki.ts';
import { captureLogger, plainService, spawnSidecar } from './support/helpers.ts';

const LEGACY = spiffe('sidecar', 'legacy');
const API = spiffe('svc', 'api');
const INTRUDER = spiffe('svc', 'intruder');
const STORE = spiffe('svc', 'store');

describe('sidecar port specifications', () => {
  it('parses inbound and outbound specs, including IPv6 and SPIFFE ids with colons', () => {
    assert.deepEqual(parseInbound('8443:8080'), { listenHost: '0.0.0.0', listenPort: 8443, localPort: 8080 });
    assert.deepEqual(parseInbound('[::1]:8443:8080'), { listenHost: '::1', listenPort: 8443, localPort: 8080 });
    assert.deepEqual(parseOutbound('9001:store.internal:8443:spiffe://td/svc/store'), { localPort: 9001, peerHost: 'store.internal', peerPort: 8443, peerSpiffeId: 'spiffe://td/svc/store' });
    assert.deepEqual(parseOutbound('9001:[fd00::2]:8443:spiffe://td/svc/store').peerHost, 'fd00::2');
  });

  for (const spec of ['8443', '8443:0', '8443:99999', 'a:8080', '8443:8080:1', '1e3:8080', '8443:+80', ' 8443:8080']) {
    it(`refuses the inbound spec ${JSON.stringify(spec)} (ERR_SIDECAR_ARGUMENT_INVALID)`, () => {
      assert.throws(() => parseInbound(spec), { code: 'ERR_SIDECAR_ARGUMENT_INVALID' });
    });
  }
  for (const spec of ['9001:store:8443', '9001:store:0:spiffe://td/svc/store', '9001:store:8443:spiffe://TD/svc/store', '9001:store:8443:spiffe://td/svc/%2e%2e', '9001:st ore:8443:spiffe://td/svc/x', '9001:store\r\n:8443:spiffe://td/svc/x', '9001:store:8443:https://td/svc/x']) {
    it(`refuses the outbound spec ${JSON.stringify(spec)} (ERR_SIDECAR_ARGUMENT_INVALID)`, () => {
      assert.throws(() => parseOutbound(spec), { code: 'ERR_SIDECAR_ARGUMENT_INVALID' });
    });
  }
});

describe('sidecar (in process)', () => {
  let pki: TestPki;
  let base: string;
  const cleanups: Array<() => Promise<unknown>> = [];
  const identity = async (id: string) => {
    const i = await WorkloadIdentity.start({ gatehouseUrl: pki.url, gatehouseCa: pki.gatehouseCa, spiffeId: id, bootstrapToken: await pki.token(id), trustRefreshMs: 500 });
    cleanups.push(() => i.stop());
    return i;
  };
  const sidecarOptions = async (name: string) => ({
    gatehouseUrl: pki.url, gatehouseCa: pki.gatehouseCa, spiffeId: LEGACY, bootstrapToken: await pki.token(LEGACY), dataDir: join(base, name), trustRefreshMs: 500,
  });

  before(async () => {
    pki = await startTestPki();
    base = await mkdtemp(join(tmpdir(), 'gatehouse-sidecar-'));
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    await pki?.close();
    await rm(base, { recursive: true, force: true });
  });

  it('refuses to open an inbound listener without an allowed peer (fail closed)', async () => {
    const { logger } = captureLogger();
    await assert.rejects(startSidecar({ identity: await sidecarOptions('no-peer'), inbound: [parseInbound('127.0.0.1:0:1')], logger }), { code: 'ERR_SIDECAR_ARGUMENT_INVALID' });
  });

  describe('inbound, tcp mode', () => {
    let service: Awaited<ReturnType<typeof plainService>>;
    let sidecar: Sidecar;
    let port: number;
    const log = captureLogger();

    before(async () => {
      service = await plainService('legacy');
      sidecar = await startSidecar({ identity: await sidecarOptions('in-tcp'), inbound: [{ listenHost: '127.0.0.1', listenPort: 0, localPort: service.port }], allowPeers: [API], logger: log.logger });
      port = sidecar.inbound[0]!.port;
      cleanups.push(() => sidecar.close(), () => service.close());
    });

    it('lets an allowed peer reach the plain service over mTLS and logs the verified identity', async () => {
      const client = await createMtlsClient({ identity: await identity(API), expectedPeer: LEGACY });
      try {
        const res = await client.request(`https://127.0.0.1:${port}/orders`);
        assert.equal(res.statusCode, 200);
        assert.equal(await res.body.text(), 'legacy ok for (no header)');
      } finally { await client.close(); }
      assert.ok(log.lines.some((l) => l.msg === 'inbound connection accepted' && l.peer === API));
    });

    it('refuses plain TCP, a client without a certificate and a peer that is not allowed — the service never sees a connection', async () => {
      const before = service.connections();
      const plain = await new Promise<string>((resolve) => {
        const s = netConnect({ host: '127.0.0.1', port }, () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
        let got = '';
        s.on('data', (d) => { got += d.toString('latin1'); });
        s.on('close', () => resolve(got));
        s.on('error', () => undefined);
      });
      assert.doesNotMatch(plain, /legacy ok/);
      const noCert = await openssl(['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', pki.f.rootPath, '-ign_eof', '-quiet'], 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.doesNotMatch(noCert.stdout, /legacy ok/);
      const intruder = await createMtlsClient({ identity: await identity(INTRUDER), expectedPeer: LEGACY });
      try {
        await assert.rejects(intruder.request(`https://127.0.0.1:${port}/steal`));
      } finally { await intruder.close(); }
      assert.equal(service.connections(), before);
      assert.ok(log.lines.some((l) => l.msg === 'inbound connection refused' && l.code === 'ERR_PKI_PEER_CERT_MISSING'));
      assert.ok(log.lines.some((l) => l.msg === 'inbound connection refused' && l.code === 'ERR_PKI_PEER_IDENTITY_MISMATCH' && l.peer === INTRUDER));
    });

    it('never logs the private key or the bootstrap token', async () => {
      const text = log.text();
      assert.doesNotMatch(text, /PRIVATE KEY/);
      assert.doesNotMatch(text, /gbt_/);
      assert.ok(!text.includes(sidecar.identity.material.keyPem.split('\n')[1]!));
    });
  });

  describe('inbound, http mode', () => {
    it('adds x-gatehouse-peer with the verified id and replaces a forged one', async () => {
      const service = await plainService('legacy-http');
      const { logger } = captureLogger();
      const sidecar = await startSidecar({ identity: await sidecarOptions('in-http'), inbound: [{ listenHost: '127.0.0.1', listenPort: 0, localPort: service.port }], allowPeers: [API], http: true, logger });
      cleanups.push(() => sidecar.close(), () => service.close());
      const client = await createMtlsClient({ identity: await identity(API), expectedPeer: LEGACY });
      try {
        const res = await client.request(`https://127.0.0.1:${sidecar.inbound[0]!.port}/x`, { headers: { 'x-gatehouse-peer': 'spiffe://test.gatehouse/svc/admin' } });
        assert.equal(await res.body.text(), `legacy-http ok for ${API}`);
        assert.equal(service.seen.at(-1)?.peer, API);
      } finally { await client.close(); }
    });

    it('drops a forged x_gatehouse_peer (underscore spelling), which CGI/WSGI/Rack/PHP servers read as x-gatehouse-peer', async () => {
      const service = await plainService('legacy-http');
      const { logger } = captureLogger();
      const sidecar = await startSidecar({ identity: await sidecarOptions('in-http-underscore'), inbound: [{ listenHost: '127.0.0.1', listenPort: 0, localPort: service.port }], allowPeers: [API], http: true, logger });
      cleanups.push(() => sidecar.close(), () => service.close());
      const client = await createMtlsClient({ identity: await identity(API), expectedPeer: LEGACY });
      try {
        const res = await client.request(`https://127.0.0.1:${sidecar.inbound[0]!.port}/x`, { headers: { 'x_gatehouse_peer': 'spiffe://test.gatehouse/svc/admin', 'X_Gatehouse-Peer': 'spiffe://test.gatehouse/svc/admin' } });
        assert.equal(res.statusCode, 200);
        await res.body.text();
        const headers = service.seen.at(-1)!.headers;
        assert.equal(headers['x_gatehouse_peer'], undefined);
        assert.equal(headers['x_gatehouse-peer'], undefined);
        assert.equal(service.seen.at(-1)?.peer, API);
      } finally { await client.close(); }
    });
  });

  it('answers 502 ERR_SIDECAR_LOCAL_UNREACHABLE in http mode when the local service is down', async () => {
    const service = await plainService('gone');
    const localPort = service.port;
    await service.close();
    const { logger, lines } = captureLogger();
    const sidecar = await startSidecar({ identity: await sidecarOptions('in-http-down'), inbound: [{ listenHost: '127.0.0.1', listenPort: 0, localPort }], allowPeers: [API], http: true, logger });
    cleanups.push(() => sidecar.close());
    const client = await createMtlsClient({ identity: await identity(API), expectedPeer: LEGACY });
    try {
      const res = await client.request(`https://127.0.0.1:${sidecar.inbound[0]!.port}/x`);
      assert.equal(res.statusCode, 502);
      assert.deepEqual(await res.body.json(), { error: 'ERR_SIDECAR_LOCAL_UNREACHABLE', message: 'Local service unreachable' });
    } finally { await client.close(); }
    assert.ok(lines.some((l) => l.code === 'ERR_SIDECAR_LOCAL_UNREACHABLE' && l.peer === API));
  });

  it('in http mode, a local service that dies mid-response makes the sidecar abort the peer\'s response instead of leaving it open forever', async () => {
    const { createServer } = await import('node:http');
    const local = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 50);
    });
    await new Promise<void>((resolve) => local.listen(0, '127.0.0.1', resolve));
    const localPort = (local.address() as { port: number }).port;
    const { logger } = captureLogger();
    const sidecar = await startSidecar({ identity: await sidecarOptions('in-http-midway'), inbound: [{ listenHost: '127.0.0.1', listenPort: 0, localPort }], allowPeers: [API], http: true, logger });
    cleanups.push(() => sidecar.close(), () => new Promise<void>((resolve) => { local.closeAllConnections(); local.close(() => resolve()); }));
    const client = await createMtlsClient({ identity: await identity(API), expectedPeer: LEGACY });
    try {
      const res = await client.request(`https://127.0.0.1:${sidecar.inbound[0]!.port}/x`);
      assert.equal(res.statusCode, 200);
      const outcome = await Promise.race([
        res.body.text().then(() => 'ended as if complete', () => 'aborted'),
        new Promise((resolve) => setTimeout(() => resolve('still open'), 3000)),
      ]);
      if (outcome === 'still open') res.body.destroy();
      assert.equal(outcome, 'aborted');
    } finally { await client.close(); }
  });

  describe('outbound', () => {
    let store: MtlsServer;
    let storePort: number;
    const handled: string[] = [];

    before(async () => {
      store = await createMtlsServer({ identity: await identity(STORE), allowedPeers: [LEGACY] }, (req, res) => {
        handled.push(req.url ?? '');
        res.end(`store ok for ${peerOf(req)?.spiffeId}`);
      });
      storePort = (await store.listen(0, '127.0.0.1')).port;
      cleanups.push(() => store.close());
    });

    it('lets a plain local client reach an mTLS service as this workload', async () => {
      const { logger } = captureLogger();
      const sidecar = await startSidecar({ identity: await sidecarOptions('out'), outbound: [{ localPort: 0, peerHost: '127.0.0.1', peerPort: storePort, peerSpiffeId: STORE }], logger });
      cleanups.push(() => sidecar.close());
      assert.equal(sidecar.outbound[0]!.address, '127.0.0.1', 'the plain port is on loopback only');
      const res = await request(`http://127.0.0.1:${sidecar.outbound[0]!.port}/mail`);
      assert.equal(await res.body.text(), `store ok for ${LEGACY}`);
    });

    it('refuses to carry traffic to a service whose SPIFFE id is not the expected one', async () => {
      const { logger, lines } = captureLogger();
      const sidecar = await startSidecar({ identity: await sidecarOptions('out-wrong'), outbound: [{ localPort: 0, peerHost: '127.0.0.1', peerPort: storePort, peerSpiffeId: spiffe('svc', 'archive') }], logger });
      cleanups.push(() => sidecar.close());
      const before = handled.length;
      await assert.rejects(request(`http://127.0.0.1:${sidecar.outbound[0]!.port}/mail`));
      assert.equal(handled.length, before);
      assert.ok(lines.some((l) => l.msg === 'outbound connection failed or refused' && l.code === 'ERR_PKI_PEER_IDENTITY_MISMATCH'));
    });
  });
});

describe('gatehouse sidecar (the CLI, as a process)', () => {
  let pki: TestPki;
  let base: string;

  before(async () => {
    pki = await startTestPki();
    base = await mkdtemp(join(tmpdir(), 'gatehouse-sidecar-cli-'));
  });
  after(async () => { await pki?.close(); await rm(base, { recursive: true, force: true }); });

  it('obtains a certificate with the token file, serves inbound mTLS, and after a restart reuses the stored certificate without a token', async () => {
    const service = await plainService('cli');
    const caFile = join(base, 'gatehouse-ca.pem');
    const tokenFile = join(base, 'token');
    await writeFile(caFile, pki.gatehouseCa);
    await writeFile(tokenFile, `${await pki.token(LEGACY)}\n`, { mode: 0o600 });
    const args = ['--gatehouse', pki.url, '--gatehouse-ca', caFile, '--spiffe-id', LEGACY, '--bootstrap-token-file', tokenFile, '--data-dir', join(base, 'data'),
      '--inbound', `127.0.0.1:0:${service.port}`, '--allow-peer', API, '--http'];
    const api = await WorkloadIdentity.start({ gatehouseUrl: pki.url, gatehouseCa: pki.gatehouseCa, spiffeId: API, bootstrapToken: await pki.token(API) });
    const call = async (port: number) => {
      const client = await createMtlsClient({ identity: api, expectedPeer: LEGACY });
      try { return await (await client.request(`https://127.0.0.1:${port}/`)).body.text(); } finally { await client.close(); }
    };
    try {
      const first = spawnSidecar(args);
      const ready = await first.waitFor('sidecar listening');
      const serial = (first.lines.find((l) => l.msg === 'sidecar ready')?.serial) as string;
      assert.equal(await call((ready.inbound as Array<{ port: number }>)[0]!.port), `cli ok for ${API}`);
      assert.equal(await first.stop(), 0);
      await rm(tokenFile); // consumed: a restart must not need it
      const second = spawnSidecar(args);
      const again = await second.waitFor('sidecar listening');
      assert.equal(second.lines.find((l) => l.msg === 'sidecar ready')?.serial, serial);
      assert.ok(second.lines.some((l) => l.msg === 'reusing the stored certificate'));
      assert.equal(await call((again.inbound as Array<{ port: number }>)[0]!.port), `cli ok for ${API}`);
      assert.equal(await second.stop(), 0);
      const all = JSON.stringify([...first.lines, ...second.lines]);
      assert.doesNotMatch(all, /PRIVATE KEY|gbt_/);
    } finally {
      await api.stop();
      await service.close();
    }
  });

  it('exits 1 with the code when the token was already used', async () => {
    const tokenFile = join(base, 'used-token');
    const token = await pki.token(spiffe('sidecar', 'twice'));
    await pki.f.ca.issueWithBootstrapToken((await import('../../src/pki/mtls/rotator.ts').then((m) => m.generateKeyAndCsr(spiffe('sidecar', 'twice')))).csrPem, token);
    await writeFile(tokenFile, token, { mode: 0o600 });
    const caFile = join(base, 'gatehouse-ca.pem');
    await writeFile(caFile, pki.gatehouseCa);
    const p = spawnSidecar(['--gatehouse', pki.url, '--gatehouse-ca', caFile, '--spiffe-id', spiffe('sidecar', 'twice'), '--bootstrap-token-file', tokenFile, '--data-dir', join(base, 'twice'), '--outbound', '0:127.0.0.1:1:spiffe://test.gatehouse/svc/x']);
    const failed = await p.waitFor('sidecar failed to start');
    assert.equal(failed.code, 'ERR_PKI_BOOTSTRAP_TOKEN_INVALID');
    assert.equal(await p.exited, 1);
  });
});
