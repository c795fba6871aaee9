import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Client } from 'undici';
import { buildUpstreamHeaders, type UpstreamHeaderOptions } from '../../src/gateway/http/upstream-headers.ts';
import { resolveClientAddress } from '../../src/gateway/http/client-address.ts';
import { compileTrustedProxies } from '../../src/gateway/http/trusted-proxies.ts';
import { GatehouseError } from '../../src/core/errors.ts';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

function options(overrides: Partial<UpstreamHeaderOptions> = {}): UpstreamHeaderOptions {
  return {
    client: { address: '203.0.113.7', peerTrusted: false, chain: ['203.0.113.7'] },
    protocol: 'https', host: 'app.example.com', requestId: 'req-12345678', traceparent: TRACEPARENT, maxHeaders: 100,
    ...overrides,
  };
}

/** The flat list as name → values, for assertions. */
function grouped(flat: string[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (let i = 0; i < flat.length; i += 2) map.set(flat[i]!, [...(map.get(flat[i]!) ?? []), flat[i + 1]!]);
  return map;
}

describe('buildUpstreamHeaders', () => {
  test('a client-sent x-gatehouse-identity never survives, in any letter case, from any peer', () => {
    const raw = ['X-Gatehouse-Identity', 'admin', 'x-gatehouse-subject', 'root', 'X-GATEHOUSE-ROLES', 'admin', 'accept', '*/*'];
    for (const peerTrusted of [false, true]) {
      const h = grouped(buildUpstreamHeaders(raw, options({ client: { address: '10.0.0.1', peerTrusted, chain: ['10.0.0.1'] } })));
      assert.deepEqual([...h.keys()].filter((k) => k.startsWith('x-gatehouse-')), []);
      assert.deepEqual(h.get('accept'), ['*/*']);
    }
  });

  test('another authenticating proxy\'s identity headers claimed by a client (Remote-User, X-Auth-Request-Email, X-SSL-Client-S-DN, X-Amzn-Oidc-Identity, X-MS-Client-Principal-Name, Cf-Access-Authenticated-User-Email…) never reach the upstream, in either spelling, even from a trusted proxy; ordinary x- headers pass', () => {
    const forged = [
      'Remote-User', 'admin', 'Remote-Groups', 'admins', 'X-Remote-User', 'admin', 'X-Auth-Request-User', 'admin', 'X-Auth-Request-Email', 'ceo@example.com',
      'X-SSL-Client-S-DN', 'CN=admin', 'X-SSL-Client-Verify', 'SUCCESS', 'SSL-Client-Cert', 'pem', 'X-Client-Cert', 'pem', 'X-Client-Verify', 'SUCCESS', 'X-Client-DN', 'CN=admin',
      'X-ARR-ClientCert', 'pem', 'X-Amzn-Oidc-Identity', 'admin', 'X-Amzn-Mtls-Clientcert', 'pem', 'X-Goog-Authenticated-User-Email', 'accounts.google.com:ceo@example.com',
      'X-Goog-IAP-JWT-Assertion', 'jwt', 'X-MS-Client-Principal-Name', 'admin', 'Cf-Access-Authenticated-User-Email', 'ceo@example.com', 'X-WebAuth-User', 'admin',
      'remote_user', 'admin', 'x_auth_request_user', 'admin', 'Gatehouse-Approval', 'apv_123',
    ];
    const kept = ['X-Requested-With', 'XMLHttpRequest', 'X-Api-Version', '2', 'Accept', '*/*'];
    for (const peerTrusted of [false, true]) {
      const h = grouped(buildUpstreamHeaders([...forged, ...kept], options({ client: { address: '10.0.0.1', peerTrusted, chain: ['10.0.0.1'] } })));
      for (let i = 0; i < forged.length; i += 2) assert.equal(h.has(forged[i]!.toLowerCase()), false, `${forged[i]} reached the upstream (peer trusted: ${peerTrusted})`);
      assert.deepEqual([h.get('x-requested-with'), h.get('x-api-version'), h.get('accept')], [['XMLHttpRequest'], ['2'], ['*/*']]);
    }
  });

  test('Gatehouse-added identity headers replace client-sent headers of the same name', () => {
    const raw = ['Authorization', 'Bearer client-token', 'X-Gatehouse-Assertion', 'forged'];
    const h = grouped(buildUpstreamHeaders(raw, options({ extra: { 'authorization': 'Basic dXBzdHJlYW0=', 'x-gatehouse-assertion': 'signed' } })));
    assert.deepEqual(h.get('authorization'), ['Basic dXBzdHJlYW0=']);
    assert.deepEqual(h.get('x-gatehouse-assertion'), ['signed']);
  });

  test('a spoofed X-Forwarded-For, Forwarded, X-Real-IP and X-Request-Id from an untrusted peer are overwritten', () => {
    const raw = ['X-Forwarded-For', '127.0.0.1', 'Forwarded', 'for=127.0.0.1', 'X-Real-IP', '127.0.0.1', 'X-Forwarded-Host', 'admin.internal', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Prefix', '/admin', 'X-Request-Id', 'chosen-by-attacker', 'traceparent', '00-11111111111111111111111111111111-1111111111111111-01', 'tracestate', 'a=b'];
    const h = grouped(buildUpstreamHeaders(raw, options({ protocol: 'http' })));
    assert.deepEqual(h.get('x-forwarded-for'), ['203.0.113.7']);
    assert.deepEqual(h.get('forwarded'), ['for=203.0.113.7;host=app.example.com;proto=http']);
    assert.deepEqual(h.get('x-forwarded-host'), ['app.example.com']);
    assert.deepEqual(h.get('x-forwarded-proto'), ['http']);
    assert.deepEqual(h.get('x-request-id'), ['req-12345678']);
    assert.deepEqual(h.get('traceparent'), [TRACEPARENT]);
    assert.equal(h.has('x-real-ip'), false);
    assert.equal(h.has('x-forwarded-prefix'), false);
    assert.equal(h.has('tracestate'), false);
  });

  test('behind a trusted proxy the chain is kept from the client on, the peer appended', () => {
    const client = resolveClientAddress('10.0.0.5', '6.6.6.6, 2001:db8::7, 10.0.0.9', compileTrustedProxies(['10.0.0.0/8']));
    const raw = ['X-Forwarded-For', '6.6.6.6, 2001:db8::7, 10.0.0.9', 'X-Forwarded-Prefix', '/app', 'X-Real-IP', '2001:db8::7'];
    const h = grouped(buildUpstreamHeaders(raw, options({ client, host: 'app.example.com:8443', tracestate: 'vendor=1' })));
    assert.deepEqual(h.get('x-forwarded-for'), ['2001:db8::7, 10.0.0.9, 10.0.0.5']);
    assert.deepEqual(h.get('forwarded'), ['for="[2001:db8::7]", for=10.0.0.9, for=10.0.0.5;host="app.example.com:8443";proto=https']);
    assert.deepEqual(h.get('x-forwarded-prefix'), ['/app']);
    assert.deepEqual(h.get('x-real-ip'), ['2001:db8::7']);
    assert.deepEqual(h.get('tracestate'), ['vendor=1']);
  });

  test('hop-by-hop headers, Proxy-*, Host, Expect and the headers named by Connection are removed', () => {
    const raw = ['Host', 'app.example.com', 'Connection', 'keep-alive, X-Secret-Hop, Upgrade', 'Keep-Alive', 'timeout=5', 'X-Secret-Hop', 'v', 'TE', 'deflate', 'Transfer-Encoding', 'chunked', 'Upgrade', 'h2c', 'Proxy-Authorization', 'Basic eA==', 'Proxy-Connection', 'keep-alive', 'Trailer', 'x', 'Expect', '100-continue', 'HTTP2-Settings', 'AAA', ':authority', 'x', 'Accept', 'text/html'];
    const h = grouped(buildUpstreamHeaders(raw, options()));
    const incoming = [...h.keys()].filter((k) => !['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'x-request-id', 'traceparent'].includes(k));
    assert.deepEqual(incoming, ['accept']);
  });

  test('TE passes only as exactly "trailers" (gRPC needs it); other codings are hop-by-hop', () => {
    assert.deepEqual(grouped(buildUpstreamHeaders(['TE', 'trailers'], options())).get('te'), ['trailers']);
    assert.equal(grouped(buildUpstreamHeaders(['TE', 'gzip, trailers'], options())).has('te'), false);
    assert.equal(grouped(buildUpstreamHeaders(['Connection', 'TE', 'TE', 'trailers'], options())).has('te'), false);
  });

  test('Connection cannot remove the headers Gatehouse adds', () => {
    const h = grouped(buildUpstreamHeaders(['Connection', 'x-forwarded-for, x-gatehouse-assertion, x-request-id'], options({ extra: { 'x-gatehouse-assertion': 'signed' } })));
    assert.deepEqual(h.get('x-forwarded-for'), ['203.0.113.7']);
    assert.deepEqual(h.get('x-gatehouse-assertion'), ['signed']);
    assert.deepEqual(h.get('x-request-id'), ['req-12345678']);
  });

  test('split HTTP/2 cookie fields are joined into one for the upstream', () => {
    const h = grouped(buildUpstreamHeaders(['cookie', 'a=1', 'accept', '*/*', 'cookie', 'b=2'], options()));
    assert.deepEqual(h.get('cookie'), ['a=1; b=2']);
  });

  test('omit removes further client headers', () => {
    const h = grouped(buildUpstreamHeaders(['Authorization', 'Bearer x', 'Accept', '*/*'], options({ omit: new Set(['authorization']) })));
    assert.equal(h.has('authorization'), false);
  });

  test('CR, LF or NUL in any header value is refused with ERR_REQUEST_HEADER_INVALID', () => {
    for (const value of ['a\r\nX-Gatehouse-Identity: admin', 'a\nb', 'a\rb', 'a\u0000b', 'a\u007fb']) {
      assert.throws(() => buildUpstreamHeaders(['X-Custom', value], options()), { code: 'ERR_REQUEST_HEADER_INVALID' }, JSON.stringify(value));
    }
    assert.throws(() => buildUpstreamHeaders([], options({ extra: { 'x-gatehouse-subject': 'alice\r\nx-gatehouse-roles: admin' } })), { code: 'ERR_REQUEST_HEADER_INVALID' });
    assert.throws(() => buildUpstreamHeaders([], options({ host: 'a\r\nb' })), { code: 'ERR_REQUEST_HEADER_INVALID' });
  });

  test('a Host with userinfo, quotes or several values never reaches the upstream as X-Forwarded-Host', () => {
    for (const host of ['good.example@evil.example', 'good.example:80@evil.example', 'evil.example"', 'a.example, b.example', 'a b', '[::1', 'x:port']) {
      assert.throws(() => buildUpstreamHeaders([], options({ host })), { code: 'ERR_REQUEST_HEADER_INVALID' }, host);
    }
    assert.deepEqual(grouped(buildUpstreamHeaders([], options({ host: '[2001:db8::1]:8443' }))).get('forwarded'), ['for=203.0.113.7;host="[2001:db8::1]:8443";proto=https']);
    assert.doesNotThrow(() => buildUpstreamHeaders(['X-Tab', 'a\tb', 'X-Latin1', 'caf\u00e9'], options()));
  });

  test('a Forwarded value reused from the previous request never carries another peer, host or protocol', () => {
    const forwarded = (o: Partial<UpstreamHeaderOptions>) => grouped(buildUpstreamHeaders([], options(o))).get('forwarded');
    assert.deepEqual(forwarded({}), ['for=203.0.113.7;host=app.example.com;proto=https']);
    assert.deepEqual(forwarded({}), ['for=203.0.113.7;host=app.example.com;proto=https']);
    assert.deepEqual(forwarded({ client: { address: '198.51.100.9', peerTrusted: false, chain: ['198.51.100.9'] } }), ['for=198.51.100.9;host=app.example.com;proto=https']);
    assert.deepEqual(forwarded({ host: 'other.example' }), ['for=203.0.113.7;host=other.example;proto=https']);
    assert.deepEqual(forwarded({ protocol: 'http' }), ['for=203.0.113.7;host=app.example.com;proto=http']);
    assert.deepEqual(forwarded({ host: '' }), ['for=203.0.113.7;proto=https']);
    assert.deepEqual(forwarded({ client: { address: '', peerTrusted: false, chain: [''] } }), ['for=unknown;host=app.example.com;proto=https']);
    assert.deepEqual(forwarded({ client: { address: '203.0.113.7', peerTrusted: true, chain: ['203.0.113.7', '10.0.0.5'] } }), ['for=203.0.113.7, for=10.0.0.5;host=app.example.com;proto=https']);
    assert.deepEqual(forwarded({}), ['for=203.0.113.7;host=app.example.com;proto=https']);
  });

  test('too many header fields are refused with 431', () => {
    const raw = Array.from({ length: 11 }, (_, i) => [`x-h${i}`, 'v']).flat();
    assert.throws(() => buildUpstreamHeaders(raw, options({ maxHeaders: 10 })), (err: unknown) => err instanceof GatehouseError && err.code === 'ERR_REQUEST_HEADERS_TOO_LARGE' && err.status === 431);
    assert.doesNotThrow(() => buildUpstreamHeaders(raw.slice(2), options({ maxHeaders: 10 })));
  });

  test('a Gatehouse-added header name that is not a lower-case token is a bug, refused', () => {
    assert.throws(() => buildUpstreamHeaders([], options({ extra: { 'X-Bad Name': 'v' } })), { code: 'ERR_INTERNAL' });
  });
});

describe('buildUpstreamHeaders over real sockets (client → Node server → undici → upstream)', () => {
  let upstream: Server;
  let gateway: Server;
  let upstreamClient: Client;
  const trusted = compileTrustedProxies([]);

  before(async () => {
    upstream = createServer((req, res) => res.end(JSON.stringify(req.rawHeaders)));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamClient = new Client(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
    gateway = createServer(async (req, res) => {
      try {
        const client = resolveClientAddress(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for'], trusted);
        const headers = buildUpstreamHeaders(req.rawHeaders, options({ client, protocol: 'http', host: req.headers.host ?? '', extra: { 'x-gatehouse-subject': 'alice' } }));
        const r = await upstreamClient.request({ path: req.url!, method: req.method as 'GET', headers });
        res.end(await r.body.text());
      } catch (err) {
        res.statusCode = err instanceof GatehouseError ? err.status : 500;
        res.end(err instanceof GatehouseError ? err.code : String(err));
      }
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    await upstreamClient.close();
    await new Promise((resolve) => gateway.close(resolve));
    await new Promise((resolve) => upstream.close(resolve));
  });

  function rawRequest(head: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect((gateway.address() as AddressInfo).port, '127.0.0.1', () => socket.write(head));
      let data = '';
      socket.on('data', (chunk) => { data += chunk; });
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
  }

  test('the upstream sees the real client address and no client-sent identity header', async () => {
    const response = await rawRequest('GET /x HTTP/1.1\r\nHost: app.example.com\r\nX-Forwarded-For: 10.0.0.1\r\nX-Gatehouse-Subject: root\r\nx-gatehouse-roles: admin\r\nConnection: close\r\n\r\n');
    const body = response.slice(response.indexOf('\r\n\r\n') + 4);
    const h = grouped(JSON.parse(body.slice(body.indexOf('['), body.lastIndexOf(']') + 1)).map((v: string, i: number) => (i % 2 === 0 ? v.toLowerCase() : v)));
    assert.deepEqual(h.get('x-forwarded-for'), ['127.0.0.1']);
    assert.deepEqual(h.get('x-gatehouse-subject'), ['alice']);
    assert.equal(h.has('x-gatehouse-roles'), false);
    assert.deepEqual(h.get('x-forwarded-host'), ['app.example.com']);
    assert.deepEqual(h.get('host'), [`127.0.0.1:${(upstream.address() as AddressInfo).port}`]);
  });
});
