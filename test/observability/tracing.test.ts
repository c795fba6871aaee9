/**
 * Span export over real sockets: a real gateway, a real upstream and a real OTLP/HTTP
 * receiver decoding what the exporter sends. The span's ids must be the ones the access log
 * and the upstream saw, early exits (request heads the HTTP parser refused included) get spans too, unsampled traces get none, secrets sent by
 * the client never reach the tracing backend, and an endpoint that is down or stalls never
 * costs a request anything (drops are counted instead).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';
import { rawTlsRequest, statusOf } from '../support/raw-tls.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import { restartOnlyChanges } from '../../src/gateway/restart-only-changes.ts';
import { closedPort } from '../support/closed-port.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const SERVER_KIND = 2;
const STATUS_UNSET = 0;
const STATUS_ERROR = 2;

function traceIdOf(header: string | string[] | undefined): { traceId: string; spanId: string; flags: string } {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(String(header));
  assert.ok(m, `upstream traceparent ${String(header)}`);
  return { traceId: m[1]!, spanId: m[2]!, flags: m[3]! };
}

async function metric(gw: TestGateway, pattern: RegExp): Promise<number> {
  const text = await (await request(`${gw.opsUrl}/metrics`)).body.text();
  return Number(pattern.exec(text)?.[1] ?? 0);
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('span export to an OTLP/HTTP receiver', () => {
  let receiver: OtlpReceiver;
  let app: TestUpstream;
  let gw: TestGateway;

  before(async () => {
    receiver = await startOtlpReceiver();
    app = await startUpstream();
    gw = await startGateway({
      // The test client is not a trusted proxy: follow its sampled flag here (the default follows trusted proxies only, tested below).
      tracing: { enabled: true, endpoint: receiver.url, scheduledDelayMs: 20, serviceName: 'edge-gateway', clientSampledFlag: 'follow' },
      upstreams: { app: { url: app.url }, down: { url: `http://127.0.0.1:${await closedPort()}` } },
      routes: [
        { id: 'api', path: '/api', upstream: 'app', access: 'public' },
        { id: 'private', path: '/private', upstream: 'app', access: 'authenticated' },
        { id: 'down', path: '/down', upstream: 'down', access: 'public' },
      ],
    });
  });
  after(async () => {
    await gw.close();
    await app.close();
    await receiver.close();
  });

  it('exports a forwarded request\'s SERVER span with the trace id of the access log, the client\'s span as parent and the span id the upstream got as parent', async () => {
    const res = await gw.fetch('/api/items/42?page=2', { headers: { traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01`, 'user-agent': 'probe/1.0' } });
    assert.equal(res.status, 200);
    const requestId = String(res.headers['x-request-id']);
    const upstream = traceIdOf(app.received.at(-1)!.headers.traceparent);
    assert.equal(upstream.traceId, TRACE_ID);
    assert.equal(upstream.flags, '01');

    const span = await receiver.waitForSpan((s) => s.attributes['gatehouse.request_id'] === requestId);
    const access = gw.logs.lines.find((l) => l.type === 'access' && l.requestId === requestId);
    assert.ok(access, 'access log line');
    assert.equal(span.traceId, access.traceId);
    assert.equal(span.traceId, TRACE_ID);
    assert.equal(span.parentSpanId, CLIENT_SPAN);
    assert.equal(span.spanId, upstream.spanId, 'the upstream\'s spans nest under Gatehouse\'s span');
    assert.equal(span.kind, SERVER_KIND);
    assert.equal(span.name, 'GET api');
    assert.equal(span.statusCode, STATUS_UNSET);
    assert.ok(span.endTimeUnixNano > span.startTimeUnixNano);
    const startMs = Number(span.startTimeUnixNano / 1_000_000n);
    assert.ok(Math.abs(startMs - Date.now()) < 60_000, 'start time is wall-clock time');
    assert.deepEqual({
      method: span.attributes['http.request.method'], path: span.attributes['url.path'], scheme: span.attributes['url.scheme'],
      host: span.attributes['server.address'], route: span.attributes['gatehouse.route.id'], status: span.attributes['http.response.status_code'],
      client: span.attributes['client.address'], ua: span.attributes['user_agent.original'],
    }, { method: 'GET', path: '/api/items/42', scheme: 'https', host: '127.0.0.1', route: 'api', status: 200, client: '127.0.0.1', ua: 'probe/1.0' });
    assert.equal(span.resource['service.name'], 'edge-gateway');
    assert.equal(span.resource['service.instance.id'], gw.gateway.config.instanceId);
  });

  it('starts a sampled trace for a request without traceparent: no parent, and the upstream gets the span id and the sampled flag', async () => {
    const res = await gw.fetch('/api/new');
    assert.equal(res.status, 200);
    const upstream = traceIdOf(app.received.at(-1)!.headers.traceparent);
    assert.equal(upstream.flags, '01', 'the flag sent upstream is the sampling decision');
    const span = await receiver.waitForSpan((s) => s.attributes['gatehouse.request_id'] === res.headers['x-request-id']);
    assert.equal(span.traceId, upstream.traceId);
    assert.equal(span.spanId, upstream.spanId);
    assert.equal(span.parentSpanId, undefined);
  });

  it('exports spans for early exits: 404 for an unknown route named by the method alone, 401 refused by the guard, 502 from a dead upstream as an error', async () => {
    const notFound = await gw.fetch('/no/such/place-8c1f?x=1');
    const unauthenticated = await gw.fetch('/private/inbox');
    const badGateway = await gw.fetch('/down/x');
    assert.deepEqual([notFound.status, unauthenticated.status, badGateway.status], [404, 401, 502]);
    const spanOf = (res: { headers: Record<string, unknown> }) => receiver.waitForSpan((s) => s.attributes['gatehouse.request_id'] === res.headers['x-request-id']);

    const s404 = await spanOf(notFound);
    assert.equal(s404.name, 'GET', 'no route: the raw path never becomes a span name');
    assert.equal(s404.attributes['gatehouse.route.id'], undefined);
    assert.equal(s404.attributes['url.path'], '/no/such/place-8c1f');
    assert.equal(s404.attributes['http.response.status_code'], 404);
    assert.equal(s404.attributes['gatehouse.error.code'], 'ERR_GATEWAY_ROUTE_NOT_FOUND');
    assert.equal(s404.statusCode, STATUS_UNSET, 'a 4xx on a SERVER span is not an error');

    const s401 = await spanOf(unauthenticated);
    assert.equal(s401.name, 'GET private');
    assert.equal(s401.attributes['http.response.status_code'], 401);
    assert.equal(s401.attributes['gatehouse.error.code'], 'ERR_AUTHN_REQUIRED');
    assert.equal(s401.statusCode, STATUS_UNSET);

    const s502 = await spanOf(badGateway);
    assert.equal(s502.name, 'GET down');
    assert.equal(s502.attributes['http.response.status_code'], 502);
    assert.equal(s502.attributes['error.type'], s502.attributes['gatehouse.error.code']);
    assert.match(String(s502.attributes['gatehouse.error.code']), /^ERR_GATEWAY_UPSTREAM_/);
    assert.equal(s502.statusCode, STATUS_ERROR);
    for (const span of [s404, s401, s502]) {
      const access = gw.logs.lines.find((l) => l.type === 'access' && l.requestId === span.attributes['gatehouse.request_id']);
      assert.equal(span.traceId, access?.traceId);
    }
  });

  it('exports a span for a request head the HTTP parser refused (431): named HTTP, no method, path or route, stage parse, the trace id of its access line', async () => {
    const raw = await rawTlsRequest(gw.gateway.addresses().https.port, `GET /api/x HTTP/1.1\r\nHost: localhost\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.equal(statusOf(raw), 431, raw);
    const requestId = /\r\nx-request-id: ([^\r]+)/i.exec(raw)![1];
    const span = await receiver.waitForSpan((s) => s.attributes['gatehouse.request_id'] === requestId);
    assert.equal(span.name, 'HTTP');
    assert.equal(span.attributes['http.request.method'], '_OTHER');
    assert.equal('http.request.method_original' in span.attributes, false);
    assert.equal('url.path' in span.attributes || 'gatehouse.route.id' in span.attributes || 'server.address' in span.attributes, false);
    assert.deepEqual([span.attributes['http.response.status_code'], span.attributes['gatehouse.error.code'], span.attributes['gatehouse.stage']], [431, 'ERR_REQUEST_HEADERS_TOO_LARGE', 'parse']);
    assert.equal(span.traceId, gw.logs.lines.find((l) => l.type === 'access' && l.requestId === requestId)?.traceId);
  });

  it('exports no span for an incoming traceparent whose sampled flag is off, and passes the flag on unchanged', async () => {
    const unsampledTrace = 'aaaabbbbccccddddeeeeffff00001111';
    const res = await gw.fetch('/api/quiet', { headers: { traceparent: `00-${unsampledTrace}-${CLIENT_SPAN}-00` } });
    assert.equal(res.status, 200);
    const upstream = traceIdOf(app.received.at(-1)!.headers.traceparent);
    assert.deepEqual([upstream.traceId, upstream.flags], [unsampledTrace, '00']);
    // A sampled request after it: once its span is in, the earlier one would be too.
    const marker = await gw.fetch('/api/marker');
    await receiver.waitForSpan((s) => s.attributes['gatehouse.request_id'] === marker.headers['x-request-id']);
    assert.equal(receiver.spans.find((s) => s.traceId === unsampledTrace), undefined);
    assert.equal(receiver.spans.find((s) => s.attributes['gatehouse.request_id'] === res.headers['x-request-id']), undefined);
  });

  it('never exports the query string, headers, cookies or body the client sent (canary secrets)', async () => {
    const canaries = ['c4nary-query-7f3a', 'c4nary-bearer-91be', 'c4nary-cookie-55d0', 'c4nary-apikey-0c2e', 'c4nary-body-e1a9', 'c4nary-custom-3b77', 'c4nary-xff-4d21'];
    const headers = {
      traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01`,
      authorization: `Bearer ${canaries[1]}`,
      cookie: `gh_session=${canaries[2]}`,
      'x-api-key': canaries[3]!,
      'x-custom': canaries[5]!,
      'x-forwarded-for': canaries[6]!,
      'content-type': 'text/plain',
    };
    const forwarded = await gw.fetch(`/api/submit?token=${canaries[0]}&q=${canaries[0]}`, { method: 'POST', headers, body: `secret=${canaries[4]}` });
    const refused = await gw.fetch(`/private/submit?token=${canaries[0]}`, { method: 'POST', headers, body: `secret=${canaries[4]}` });
    const unknown = await gw.fetch(`/nowhere?token=${canaries[0]}`, { headers });
    assert.deepEqual([forwarded.status, refused.status, unknown.status], [200, 401, 404]);
    for (const res of [forwarded, refused, unknown]) await receiver.waitForSpan((s) => s.attributes['gatehouse.request_id'] === res.headers['x-request-id']);
    // The raw export bodies, not only the decoded attributes: nothing may carry a canary.
    const everything = receiver.requests.map((r) => r.body).join('\n');
    for (const canary of canaries) assert.ok(!everything.includes(canary), `${canary} reached the tracing backend`);
    // The forwarded request really carried them (the test would prove nothing otherwise).
    assert.ok(app.received.at(-1)!.url.includes(canaries[0]!));
    assert.equal(app.received.at(-1)!.body, `secret=${canaries[4]}`);
  });
});

describe('reload', () => {
  it('names tracing as a setting that changes only on restart (the exporter and the sample ratio are fixed at start)', () => {
    const a = parseConfig({}, { env: {} }).config;
    const b = parseConfig({ tracing: { enabled: true, sampleRatio: 0.5 } }, { env: {} }).config;
    assert.deepEqual(restartOnlyChanges(a, b), ['tracing']);
  });
});

describe('sampling of new traces', () => {
  it('a client that is not a trusted proxy cannot force its requests into export with a sampled traceparent (sampleRatio 0 holds; the trace id is continued); a trusted proxy\'s flag is followed', async () => {
    const receiver = await startOtlpReceiver();
    const app = await startUpstream();
    const start = (trustedProxies: string[]) => startGateway({
      trustedProxies,
      tracing: { enabled: true, endpoint: receiver.url, scheduledDelayMs: 20, sampleRatio: 0 },
      upstreams: { app: { url: app.url } },
      routes: [{ id: 'api', path: '/api', upstream: 'app', access: 'public' }],
    });
    let gw = await start([]);
    try {
      const forced = await gw.fetch('/api/forced', { headers: { traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01` } });
      assert.equal(forced.status, 200);
      const upstream = traceIdOf(app.received.at(-1)!.headers.traceparent);
      assert.deepEqual([upstream.traceId, upstream.flags], [TRACE_ID, '00'], 'trace continued, not sampled');
      await gw.close();
      gw = await start(['127.0.0.1/32', '::1/128']);
      const proxied = await gw.fetch('/api/proxied', { headers: { traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01` } });
      assert.equal(traceIdOf(app.received.at(-1)!.headers.traceparent).flags, '01');
      await receiver.waitForSpan((s) => s.attributes['gatehouse.request_id'] === proxied.headers['x-request-id']);
      assert.equal(receiver.spans.find((s) => s.attributes['gatehouse.request_id'] === forced.headers['x-request-id']), undefined);
    } finally {
      await gw.close();
      await app.close();
      await receiver.close();
    }
  });

  it('with sampleRatio 0 a request without traceparent is not sampled: the upstream gets flag 00 and no span is exported, while an incoming sampled trace still is', async () => {
    const receiver = await startOtlpReceiver();
    const app = await startUpstream();
    const gw = await startGateway({
      tracing: { enabled: true, endpoint: receiver.url, scheduledDelayMs: 20, sampleRatio: 0, clientSampledFlag: 'follow' },
      upstreams: { app: { url: app.url } },
      routes: [{ id: 'api', path: '/api', upstream: 'app', access: 'public' }],
    });
    try {
      const fresh = await gw.fetch('/api/a');
      assert.equal(traceIdOf(app.received.at(-1)!.headers.traceparent).flags, '00');
      const parented = await gw.fetch('/api/b', { headers: { traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01` } });
      await receiver.waitForSpan((s) => s.attributes['gatehouse.request_id'] === parented.headers['x-request-id']);
      assert.equal(receiver.spans.find((s) => s.attributes['gatehouse.request_id'] === fresh.headers['x-request-id']), undefined);
    } finally {
      await gw.close();
      await app.close();
      await receiver.close();
    }
  });
});

describe('an export endpoint that fails', () => {
  it('an unreachable endpoint: requests still succeed, dropped spans are counted, and the warning shows neither the endpoint\'s password nor the header secrets', async () => {
    const app = await startUpstream();
    const port = await closedPort();
    const gw = await startGateway({
      tracing: {
        enabled: true, endpoint: `http://otel-user:pw-s3cr3t-1d9c@127.0.0.1:${port}/v1/traces`,
        headers: { 'x-honeycomb-team': '${OTLP_KEY}', authorization: 'Bearer ${OTLP_TOKEN}' },
        scheduledDelayMs: 10, exportTimeoutMs: 500,
      },
      upstreams: { app: { url: app.url } },
      routes: [{ id: 'api', path: '/api', upstream: 'app', access: 'public' }],
    }, { env: { OTLP_KEY: 'hny-key-77aa31', OTLP_TOKEN: 'otlp-token-5be0c2' } });
    try {
      for (let i = 0; i < 5; i++) assert.equal((await gw.fetch(`/api/${i}`)).status, 200);
      await eventually(async () => await metric(gw, /^gatehouse_tracing_spans_dropped_total\{reason="export_failed"\} (\d+)$/m) >= 1, 'export_failed drops');
      const warning = gw.logs.lines.find((l) => l.type === 'tracing' && l.level === 40);
      assert.ok(warning, 'a warning about dropped spans');
      const logged = gw.logs.text();
      for (const secret of ['pw-s3cr3t-1d9c', 'hny-key-77aa31', 'otlp-token-5be0c2']) assert.ok(!logged.includes(secret), `${secret} was logged`);
      assert.ok(logged.includes(`127.0.0.1:${port}/v1/traces`), 'the endpoint is named (without its userinfo)');
    } finally {
      await gw.close();
      await app.close();
    }
  });

  it('an endpoint that never answers: requests are not held up, the full queue drops spans and counts them', async () => {
    const stalled = await startOtlpReceiver({ hang: true });
    const app = await startUpstream();
    const gw = await startGateway({
      tracing: { enabled: true, endpoint: stalled.url, scheduledDelayMs: 10, maxQueueSize: 2, maxExportBatchSize: 1, exportTimeoutMs: 3000, shutdownTimeoutMs: 100 },
      upstreams: { app: { url: app.url } },
      routes: [{ id: 'api', path: '/api', upstream: 'app', access: 'public' }],
    });
    try {
      const started = performance.now();
      for (let i = 0; i < 10; i++) assert.equal((await gw.fetch(`/api/${i}`)).status, 200);
      assert.ok(performance.now() - started < 5000, 'requests were held up by the exporter');
      // One batch stuck in flight, two queued, the rest dropped.
      await eventually(async () => await metric(gw, /^gatehouse_tracing_spans_dropped_total\{reason="queue_full"\} (\d+)$/m) >= 7, 'queue_full drops');
    } finally {
      await gw.close();
      await app.close();
      await stalled.close();
    }
  });
});

describe('shutdown', () => {
  it('sends the queued spans before stop() returns, long before the batch delay', async () => {
    const receiver = await startOtlpReceiver();
    const app = await startUpstream();
    const gw = await startGateway({
      tracing: { enabled: true, endpoint: receiver.url, scheduledDelayMs: 600_000 },
      upstreams: { app: { url: app.url } },
      routes: [{ id: 'api', path: '/api', upstream: 'app', access: 'public' }],
    });
    try {
      const res = await gw.fetch('/api/last');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(receiver.spans.length, 0, 'nothing is sent before the batch is due');
      await gw.close();
      const spans: ReceivedSpan[] = receiver.spans.filter((s) => s.attributes['gatehouse.request_id'] === res.headers['x-request-id']);
      assert.equal(spans.length, 1);
    } finally {
      await gw.close();
      await app.close();
      await receiver.close();
    }
  });
});
