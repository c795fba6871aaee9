/**
 * RateLimit headers on the wire, through a real gateway: the rate-limit stages collect them
 * on the request context and whoever writes the response head sends them (the forwarded
 * response, the error path, the WebSocket 101 head). Raw responses are read so that a
 * field sent twice, or lost, shows.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { rawTlsRequest, statusOf } from '../support/raw-tls.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import type { GatewayExtension } from '../../src/gateway/gateway.ts';
import { createEdgeRateLimitStage } from '../../src/gateway/pipeline/edge-rate-limit.ts';
import { createRateLimitStage } from '../../src/gateway/pipeline/rate-limit.ts';
import { ratelimitSchema } from '../../src/core/config/ratelimit-schema.ts';
import { MemoryRateLimiter } from '../../src/ratelimit/memory-limiter.ts';

/** Every value of a header field in a raw HTTP/1.1 response head (names compared case-insensitively). */
function fields(raw: string, name: string): string[] {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
  return head.split('\r\n').slice(1)
    .filter((line) => line.slice(0, line.indexOf(':')).toLowerCase() === name.toLowerCase())
    .map((line) => line.slice(line.indexOf(':') + 1).trim());
}

const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`;

describe('RateLimit headers through the gateway', () => {
  let gw: TestGateway;
  let app: TestUpstream;
  let ws: Server;

  before(async () => {
    app = await startUpstream((req, res) => {
      // An upstream that paces its own clients: its RateLimit fields are passed on as they are.
      if (req.url?.startsWith('/own')) res.writeHead(200, { ratelimit: '"upstream";r=9;t=1', 'ratelimit-policy': '"upstream";q=10;w=1' }).end('own');
      else if (req.url?.startsWith('/policy-only')) res.writeHead(200, { 'ratelimit-policy': '"upstream";q=10;w=1' }).end('own');
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
    ws = createServer();
    ws.on('upgrade', (_req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n');
      socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
    });
    await new Promise<void>((r) => ws.listen(0, '127.0.0.1', r));
    const config = ratelimitSchema.parse({
      edge: { rate: 1, periodMs: 60_000, burst: 1000 },
      identity: { rate: 1, periodMs: 60_000, burst: 2, routes: { flood: { rate: 1, periodMs: 60_000, burst: 1 } } },
    });
    const limiter = new MemoryRateLimiter();
    const edge = createEdgeRateLimitStage(config, { limiter })!;
    const edgeFlood = createEdgeRateLimitStage(ratelimitSchema.parse({ edge: { rate: 1, periodMs: 60_000, burst: 1 } }), { limiter: new MemoryRateLimiter() })!;
    const ratelimit: GatewayExtension = {
      name: 'ratelimit-test',
      stages: () => ({
        // The edge limit only bites on /edge-flood, so the identity stage is what the other routes see.
        edgeRateLimit: function edgeRateLimit(ctx) { return ctx.path.startsWith('/edge-flood') ? edgeFlood(ctx) : edge(ctx); },
        rateLimit: createRateLimitStage(config, { limiter })!,
      }),
    };
    gw = await startGateway({
      upstreams: {
        app: { url: app.url },
        down: { url: 'http://127.0.0.1:9' },
        ws: { url: `http://127.0.0.1:${(ws.address() as AddressInfo).port}` },
      },
      routes: [
        { id: 'app', path: '/app', upstream: 'app', access: 'public' },
        { id: 'flood', path: '/flood', upstream: 'app', access: 'public' },
        { id: 'edge-flood', path: '/edge-flood', upstream: 'app', access: 'public' },
        { id: 'own', path: '/own', upstream: 'app', access: 'public' },
        { id: 'policy-only', path: '/policy-only', upstream: 'app', access: 'public' },
        { id: 'down', path: '/down', upstream: 'down', access: 'public' },
        { id: 'ws', path: '/ws', upstream: 'ws', access: 'public', websocket: true },
      ],
    }, { extensions: [ratelimit] });
  });
  after(async () => {
    await gw.close();
    await app.close();
    ws.closeAllConnections();
    ws.close();
  });

  it('a forwarded response carries RateLimit and RateLimit-Policy once each, with the request id', async () => {
    const raw = await rawTlsRequest(gw.gateway.addresses().https.port, get('/app/x'));
    assert.equal(statusOf(raw), 200);
    assert.deepEqual(fields(raw, 'RateLimit-Policy'), ['"identity";q=2;w=120']);
    assert.deepEqual(fields(raw, 'RateLimit'), ['"identity";r=1;t=60']);
    assert.deepEqual(fields(raw, 'Retry-After'), []);
    assert.equal(fields(raw, 'x-request-id').length, 1);
  });

  it('a client over its per-identity limit gets 429 with RateLimit, RateLimit-Policy and Retry-After, each once', async () => {
    const port = gw.gateway.addresses().https.port;
    const allowed = await rawTlsRequest(port, get('/flood/x'));
    assert.equal(statusOf(allowed), 200);
    assert.deepEqual(fields(allowed, 'RateLimit'), ['"identity";r=0;t=60']);
    const refused = await rawTlsRequest(port, get('/flood/x'));
    assert.equal(statusOf(refused), 429);
    assert.match(refused, /"code":"ERR_RATELIMIT_EXCEEDED"/);
    assert.deepEqual(fields(refused, 'RateLimit-Policy'), ['"identity";q=1;w=60']);
    assert.deepEqual(fields(refused, 'RateLimit'), ['"identity";r=0;t=60']);
    assert.deepEqual(fields(refused, 'Retry-After'), ['60']);
  });

  it('a client over the edge limit gets 429 with the edge policy\'s RateLimit headers and Retry-After', async () => {
    const port = gw.gateway.addresses().https.port;
    assert.equal(statusOf(await rawTlsRequest(port, get('/edge-flood/x'))), 200);
    const refused = await rawTlsRequest(port, get('/edge-flood/x'));
    assert.equal(statusOf(refused), 429);
    assert.deepEqual(fields(refused, 'RateLimit-Policy'), ['"edge";q=1;w=60']);
    assert.deepEqual(fields(refused, 'RateLimit'), ['"edge";r=0;t=60']);
    assert.deepEqual(fields(refused, 'Retry-After'), ['60']);
  });

  it('an allowed request that then fails upstream (502) still carries its RateLimit headers', async () => {
    const raw = await rawTlsRequest(gw.gateway.addresses().https.port, get('/down/x'));
    assert.equal(statusOf(raw), 502);
    assert.deepEqual(fields(raw, 'RateLimit-Policy'), ['"identity";q=2;w=120']);
    assert.deepEqual(fields(raw, 'RateLimit'), ['"identity";r=1;t=60']);
  });

  it('an upstream with its own limits cannot hide the gateway\'s: RateLimit and RateLimit-Policy carry both parties\' policies (lists, each item once)', async () => {
    const raw = await rawTlsRequest(gw.gateway.addresses().https.port, get('/own/x'));
    assert.equal(statusOf(raw), 200);
    assert.deepEqual(fields(raw, 'RateLimit'), ['"upstream";r=9;t=1', '"identity";r=1;t=60']);
    assert.deepEqual(fields(raw, 'RateLimit-Policy'), ['"upstream";q=10;w=1', '"identity";q=2;w=120']);
  });

  it('an upstream that sends only RateLimit-Policy: the gateway\'s RateLimit still names a policy the client is told about', async () => {
    const raw = await rawTlsRequest(gw.gateway.addresses().https.port, get('/policy-only/x'));
    assert.equal(statusOf(raw), 200);
    assert.deepEqual(fields(raw, 'RateLimit-Policy'), ['"upstream";q=10;w=1', '"identity";q=2;w=120']);
    assert.deepEqual(fields(raw, 'RateLimit'), ['"identity";r=1;t=60']);
  });

  it('the 101 head of a WebSocket upgrade carries the RateLimit headers', async () => {
    const socket = tlsConnect({ host: '127.0.0.1', port: gw.gateway.addresses().https.port, rejectUnauthorized: false });
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    socket.write('GET /ws/chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    let data = '';
    socket.on('data', (d: Buffer) => { data += d.toString(); });
    const end = Date.now() + 3000;
    while (!data.includes('\r\n\r\n') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    socket.destroy();
    assert.equal(statusOf(data), 101);
    assert.deepEqual(fields(data, 'RateLimit-Policy'), ['"identity";q=2;w=120']);
    assert.deepEqual(fields(data, 'RateLimit'), ['"identity";r=1;t=60']);
  });
});
