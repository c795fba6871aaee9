/**
 * The address guard through an HTTP egress proxy (src/core/http/proxy-tunnel.ts): the guard
 * still resolves the name and judges the addresses, the proxy is asked to CONNECT to the
 * address that passed (never the name: the proxy's own DNS has no say), TLS over the tunnel is
 * checked against the name, and a proxy that refuses, stays silent or answers garbage fails the
 * request without its credentials in the error.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { fetch as undiciFetch, type Agent } from 'undici';
import { addressGuardedAgent, type AddressGuardOptions } from '../../src/core/http/address-guard.ts';
import { connectResponseStatus, proxyTunnel } from '../../src/core/http/proxy-tunnel.ts';
import { parseProxyUrl, type ProxyUrl } from '../../src/core/net/proxy-url.ts';
import { selfSignedCert } from '../identity/support/harness.ts';
import { startConnectProxy, type ConnectProxy } from '../support/connect-proxy.ts';
import { fetchFailure } from './support/fetch-failure.ts';

const USER = 'svc-gatehouse';
const PASSWORD = 'pr0xy-Passw0rd:with@signs';

describe('address guard through a CONNECT proxy', () => {
  let server: Server;
  let port = 0;
  let connections = 0;
  let proxy: ConnectProxy;
  const agents: Agent[] = [];
  const { key, cert } = selfSignedCert(); // names localhost and 127.0.0.1

  before(async () => {
    server = createServer({ key, cert }, (_req, res) => res.end('inside'));
    server.on('connection', () => { connections += 1; });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    proxy = await startConnectProxy();
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.destroy()));
    await proxy.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function get(url: string, options: Partial<AddressGuardOptions> & { proxyUrl?: string }) {
    const { proxyUrl, ...rest } = options;
    const agent = addressGuardedAgent({
      allowedNetworks: [], allowListPath: 'test.privateNetworks', tls: { ca: cert },
      proxy: { url: proxyUrl ?? proxy.url, timeoutMs: 2_000 }, ...rest,
    });
    agents.push(agent);
    return undiciFetch(url, { dispatcher: agent });
  }


  const toLocalServer = () => ({ host: '127.0.0.1', port });

  it('a name resolving to a public address is reached through the proxy, which is asked to CONNECT to that address, not to the name (the proxy\'s own DNS has no say); the proxy itself, on loopback, is not judged', async () => {
    proxy.answer = { kind: 'tunnel', route: toLocalServer }; // the proxy stands in for the internet
    proxy.requests.length = 0;
    const resolved: string[] = [];
    const response = await get(`https://localhost:${port}/`, { resolve: async (host) => { resolved.push(host); return [{ address: '8.8.8.8', family: 4 }]; } });
    assert.equal(await response.text(), 'inside');
    assert.deepEqual(resolved, ['localhost']);
    assert.deepEqual(proxy.requests.map((r) => r.target), [`8.8.8.8:${port}`]);
    assert.equal(proxy.requests[0]!.headers.host, `8.8.8.8:${port}`);
  });

  it('an IPv6 address is asked for in brackets', async () => {
    proxy.answer = { kind: 'tunnel', route: toLocalServer };
    proxy.requests.length = 0;
    const response = await get(`https://localhost:${port}/`, { resolve: async () => [{ address: '2606:4700:4700::1111', family: 6 }] });
    assert.equal(await response.text(), 'inside');
    assert.deepEqual(proxy.requests.map((r) => r.target), [`[2606:4700:4700::1111]:${port}`]);
  });

  it('SSRF through the proxy: a name resolving only to unlisted private addresses (metadata, loopback) is refused before the proxy is asked anything', async () => {
    proxy.answer = { kind: 'tunnel' };
    const before = proxy.connections;
    connections = 0;
    const cause = await fetchFailure(get(`https://metadata.test:${port}/`, { resolve: async () => [{ address: '169.254.169.254', family: 4 }, { address: '127.0.0.1', family: 4 }] }));
    assert.match(cause.message, /not a public address.*test\.privateNetworks/);
    assert.equal(proxy.connections, before, 'the proxy was contacted');
    assert.equal(connections, 0);
  });

  it('a name resolving to an unlisted and a listed private address: the proxy is asked for the listed one only', async () => {
    proxy.answer = { kind: 'tunnel' };
    proxy.requests.length = 0;
    const response = await get(`https://localhost:${port}/`, { allowedNetworks: ['127.0.0.1/32'], resolve: async () => [{ address: '10.9.9.9', family: 4 }, { address: '127.0.0.1', family: 4 }] });
    assert.equal(await response.text(), 'inside');
    assert.deepEqual(proxy.requests.map((r) => r.target), [`127.0.0.1:${port}`]);
  });

  it('through the tunnel, the certificate is still checked against the name: a name the certificate does not hold is refused by TLS', async () => {
    proxy.answer = { kind: 'tunnel', route: toLocalServer };
    const cause = await fetchFailure(get(`https://evil.test:${port}/`, { resolve: async () => [{ address: '8.8.8.8', family: 4 }] }));
    assert.match(`${cause.message} ${(cause as { code?: string }).code}`, /ERR_TLS_CERT_ALTNAME_INVALID|altnames/i);
  });

  it('through the tunnel, a certificate from a CA not trusted for the provider is refused (caFile is the only trust)', async () => {
    proxy.answer = { kind: 'tunnel', route: toLocalServer };
    const agent = addressGuardedAgent({ allowedNetworks: [], allowListPath: 'test.privateNetworks', proxy: { url: proxy.url }, resolve: async () => [{ address: '8.8.8.8', family: 4 }] });
    agents.push(agent);
    const cause = await fetchFailure(undiciFetch(`https://localhost:${port}/`, { dispatcher: agent }));
    assert.match(`${cause.message} ${(cause as { code?: string }).code}`, /self.signed|SELF_SIGNED|unable to verify/i);
  });

  it('Proxy-Authorization: Basic is sent to the proxy with the URL\'s user name and password (percent-decoded)', async () => {
    proxy.answer = { kind: 'tunnel', route: toLocalServer };
    proxy.requests.length = 0;
    const proxyUrl = `http://${encodeURIComponent(USER)}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${proxy.port}`;
    const response = await get(`https://localhost:${port}/`, { proxyUrl, resolve: async () => [{ address: '8.8.8.8', family: 4 }] });
    assert.equal(await response.text(), 'inside');
    assert.equal(proxy.requests[0]!.headers['proxy-authorization'], `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`);
  });

  it('a proxy URL without user info sends no Proxy-Authorization', async () => {
    proxy.answer = { kind: 'tunnel', route: toLocalServer };
    proxy.requests.length = 0;
    await (await get(`https://localhost:${port}/`, { resolve: async () => [{ address: '8.8.8.8', family: 4 }] })).text();
    assert.equal(proxy.requests[0]!.headers['proxy-authorization'], undefined);
  });

  for (const status of [407, 403, 502]) {
    it(`a proxy refusing CONNECT with ${status}: the request fails naming the status and the proxy, never its user name or password`, async () => {
      proxy.answer = { kind: 'refuse', status };
      connections = 0;
      const proxyUrl = `http://${encodeURIComponent(USER)}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${proxy.port}`;
      const cause = await fetchFailure(get(`https://localhost:${port}/`, { proxyUrl, resolve: async () => [{ address: '8.8.8.8', family: 4 }] }));
      assert.equal((cause as { code?: string }).code, 'ERR_PROXY_TUNNEL_FAILED');
      assert.match(cause.message, new RegExp(`CONNECT 8\\.8\\.8\\.8:${port} through proxy http://127\\.0\\.0\\.1:${proxy.port}: the proxy answered ${status}`));
      const text = `${cause.message} ${cause.stack} ${JSON.stringify(cause)}`;
      for (const secret of [USER, PASSWORD, encodeURIComponent(PASSWORD), Buffer.from(`${USER}:${PASSWORD}`).toString('base64')]) assert.ok(!text.includes(secret), text);
      assert.equal(connections, 0);
    });
  }

  it('a proxy that never answers CONNECT: the request fails when the tunnel\'s time is up, not never', async () => {
    proxy.answer = { kind: 'silent' };
    const started = Date.now();
    const agent = addressGuardedAgent({ allowedNetworks: [], allowListPath: 'test.privateNetworks', tls: { ca: cert }, proxy: { url: proxy.url, timeoutMs: 300 }, resolve: async () => [{ address: '8.8.8.8', family: 4 }] });
    agents.push(agent);
    const cause = await fetchFailure(undiciFetch(`https://localhost:${port}/`, { dispatcher: agent }));
    assert.match(cause.message, /no answer within 300 ms/);
    assert.ok(Date.now() - started < 5_000);
  });

  it('a proxy that answers with a header without end: refused once 16 KiB are read, not buffered for ever', async () => {
    proxy.answer = { kind: 'raw', bytes: `HTTP/1.1 200 OK\r\n${'x-pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'.repeat(300)}` };
    const cause = await fetchFailure(get(`https://localhost:${port}/`, { resolve: async () => [{ address: '8.8.8.8', family: 4 }] }));
    assert.match(cause.message, /no end of header within 16384 bytes/);
  });

  it('a proxy answering something other than HTTP/1.x (a bare-LF header): refused, nothing is sent over it', async () => {
    proxy.answer = { kind: 'raw', bytes: 'HTTP/1.1 200 OK\nx: y\r\n\r\n' };
    const cause = await fetchFailure(get(`https://localhost:${port}/`, { resolve: async () => [{ address: '8.8.8.8', family: 4 }] }));
    assert.match(cause.message, /not an HTTP\/1\.x status line/);
  });

  it('a plain-HTTP provider (allowInsecureHttp, development) through the proxy: the tunnel itself carries the requests, to the judged address', async () => {
    const { createServer: createHttpServer } = await import('node:http');
    const plain = createHttpServer((_req, res) => res.end('plain inside'));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const plainPort = (plain.address() as AddressInfo).port;
    try {
      proxy.answer = { kind: 'tunnel', route: () => ({ host: '127.0.0.1', port: plainPort }) };
      proxy.requests.length = 0;
      const response = await get(`http://provider.test:${plainPort}/`, { resolve: async () => [{ address: '8.8.8.8', family: 4 }] });
      assert.equal(await response.text(), 'plain inside');
      assert.deepEqual(proxy.requests.map((r) => r.target), [`8.8.8.8:${plainPort}`]);
    } finally {
      plain.closeAllConnections();
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });

  it('an https:// proxy: TLS to the proxy, checked against its certificate, then TLS to the provider inside', async () => {
    const tlsProxy = await startConnectProxy({ kind: 'tunnel', route: toLocalServer }, { key, cert });
    try {
      const agent = addressGuardedAgent({ allowedNetworks: [], allowListPath: 'test.privateNetworks', tls: { ca: cert }, proxy: { url: `https://localhost:${tlsProxy.port}`, ca: cert }, resolve: async () => [{ address: '8.8.8.8', family: 4 }] });
      agents.push(agent);
      assert.equal(await (await undiciFetch(`https://localhost:${port}/`, { dispatcher: agent })).text(), 'inside');
      assert.deepEqual(tlsProxy.requests.map((r) => r.target), [`8.8.8.8:${port}`]);
    } finally {
      await tlsProxy.close();
    }
  });
});

describe('proxyTunnel', () => {
  it('bytes the proxy sends right after its 200 belong to the tunnel: handed over, not lost', async () => {
    const { createServer: createTcpServer } = await import('node:net');
    const target = createTcpServer((s) => s.end());
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const targetPort = (target.address() as AddressInfo).port;
    const proxy = await startConnectProxy({ kind: 'tunnel', extra: Buffer.from('early-bytes') });
    try {
      const socket: Socket = await proxyTunnel(parseProxyUrl(proxy.url) as ProxyUrl)('127.0.0.1', targetPort);
      const chunks: Buffer[] = [];
      for await (const chunk of socket) chunks.push(chunk as Buffer);
      assert.equal(Buffer.concat(chunks).toString(), 'early-bytes');
    } finally {
      await proxy.close();
      await new Promise<void>((resolve) => target.close(() => resolve()));
    }
  });

  it('reads a CONNECT answer strictly', () => {
    assert.equal(connectResponseStatus('HTTP/1.1 200 Connection established'), 200);
    assert.equal(connectResponseStatus('HTTP/1.0 200'), 200);
    assert.equal(connectResponseStatus('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="x"'), 407);
    for (const bad of ['HTTP/2 200', 'HTTP/1.1 20 OK', 'HTTP/1.1 2000 OK', 'http/1.1 200 OK', 'SSH-2.0-OpenSSH', 'HTTP/1.1 200 OK\nx: y', 'HTTP/1.1 200 OK\r\n folded: value', 'HTTP/1.1 200 OK\r\nno colon', 'HTTP/1.1 200 OK\r\nbad name: v', 'HTTP/1.1 200 OK\r\n: v']) {
      assert.equal(typeof connectResponseStatus(bad), 'string', JSON.stringify(bad));
    }
  });
});

describe('parseProxyUrl', () => {
  it('takes http:// and https:// URLs with a host and optional user info; the display form never holds the credentials', () => {
    const p = parseProxyUrl(`http://${encodeURIComponent(USER)}:${encodeURIComponent(PASSWORD)}@proxy.internal:3128`) as ProxyUrl;
    assert.equal(p.display, 'http://proxy.internal:3128');
    assert.equal(p.authorization, `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`);
    assert.deepEqual(parseProxyUrl('https://[::1]'), { protocol: 'https:', hostname: '::1', port: 443, display: 'https://[::1]:443' });
  });

  it('refuses other schemes, paths, queries and broken percent-encoding, without quoting the URL', () => {
    for (const url of ['socks5://u:hunter2@proxy:1080', 'ftp://proxy', 'http://u:hunter2@proxy:3128/path', 'http://u:hunter2@proxy:3128?x=1', 'http://u:hunter2@proxy:3128#f', 'http://u:hunter2%zz@proxy:3128', 'not a url hunter2', 'http://a%3Ab:hunter2@proxy']) {
      const problem = parseProxyUrl(url);
      assert.equal(typeof problem, 'string', url);
      assert.ok(!(problem as string).includes('hunter2'), `${url}: ${problem as string}`);
    }
  });
});
