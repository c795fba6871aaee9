/**
 * DNS rebinding against the ops listener: a web page at attacker.example, open in a browser on
 * the gateway's host, re-points its own name at 127.0.0.1 and reads /metrics and /readyz as
 * same-origin responses (no CORS involved). The browser still sends the attacker's name in
 * Host, which is what the listener refuses; probes and Prometheus use IP addresses, localhost
 * or a configured Service name.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { isOpsHost } from '../../src/observability/ops-server.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';

/** GET with the Host header as given (fetch and undici do not let a test set a foreign Host). */
function get(opsUrl: string, path: string, host: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(opsUrl);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject).end();
  });
}

describe('ops listener Host check (DNS rebinding)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ listeners: { https: { host: '127.0.0.1', port: 0 }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0, allowedHosts: ['gatehouse-ops.monitoring.svc'] } } });
  });
  after(() => gw.close());

  it('a page under a rebound name cannot read /metrics or /readyz through a browser on the host: 421, nothing of them in the answer', async () => {
    for (const path of ['/metrics', '/readyz', '/healthz']) {
      for (const host of ['attacker.example', 'attacker.example:9090', 'localhost.attacker.example', '127.0.0.1.nip.io:9090', 'gatehouse-ops.monitoring.svc.attacker.example']) {
        const res = await get(gw.opsUrl, path, host);
        assert.equal(res.status, 421, `${path} with Host ${host}`);
        assert.equal(JSON.parse(res.body).error.code, 'ERR_OPS_HOST_UNKNOWN');
        assert.doesNotMatch(res.body, /gatehouse_|dependencies|instance/);
      }
    }
  });

  it('probes and scrapers by IP address, localhost or a configured name still get the pages', async () => {
    const port = new URL(gw.opsUrl).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`, `10.1.2.3:${port}`, '[fd00::7]:9090', 'gatehouse-ops.monitoring.svc:9090', 'Gatehouse-Ops.Monitoring.SVC.']) {
      const res = await get(gw.opsUrl, '/metrics', host);
      assert.equal(res.status, 200, `Host ${host}`);
      assert.match(res.body, /gatehouse_/);
    }
    assert.equal((await get(gw.opsUrl, '/readyz', `127.0.0.1:${port}`)).status, 200);
  });

  it('malformed Host values are refused, not read as a loopback or allowed name', () => {
    const allowed = new Set(['ops.example']);
    for (const host of ['', '[::1', '[::1]x', '[::1]:abc', '[localhost]', '127.0.0.1:abc', '127.0.0.1:80:80', 'ops.example:', '300.1.1.1', 'ops.example@attacker.example', 'attacker.example#ops.example']) {
      assert.equal(isOpsHost(host, allowed), false, JSON.stringify(host));
    }
    assert.equal(isOpsHost(undefined, allowed), true, 'HTTP/1.0 without Host');
    assert.equal(isOpsHost('ops.example', allowed), true);
  });

  it('config refuses an allowed host that is not a bare DNS name, naming its path', () => {
    for (const bad of ['http://ops.example', 'ops.example:9090', '*.example', 'ops example']) {
      assert.throws(() => parseConfig({ listeners: { ops: { allowedHosts: [bad] } } }, { env: {} }), (err: Error) => /listeners\.ops\.allowedHosts\.0/.test(err.message + JSON.stringify(err)), bad);
    }
  });
});
