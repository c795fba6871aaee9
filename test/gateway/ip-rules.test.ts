/**
 * IP rules (`ipRules`, top level and per route), enforced by the shield stage over real TLS
 * sockets from 127.0.0.1. Attacks: a client outside an admin route's allowed network reaching
 * it; a client faking its address with X-Forwarded-For from an untrusted peer; a denied client
 * mapping routes by their 404s. The rules' matching itself is checked without a server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/core/config/load.ts';
import { connect as tlsConnect } from 'node:tls';
import { compileIpRules } from '../../src/gateway/http/ip-rules.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { startAuditedGateway, type AuditedGateway } from '../support/audited-gateway.ts';

describe('IP rules matching', () => {
  it('deny wins over allow; with an allow list only its ranges pass; the refusal names the range that matched', () => {
    const rules = compileIpRules({ allow: ['10.0.0.0/8', '2001:db8::/32'], deny: ['10.9.0.0/16', '2001:db8:bad::/48'] })!;
    assert.equal(rules.refusal('10.1.2.3'), undefined);
    assert.equal(rules.refusal('2001:db8:1::1'), undefined);
    assert.equal(rules.refusal('10.9.0.1'), 'deny 10.9.0.0/16');
    assert.equal(rules.refusal('2001:db8:bad::7'), 'deny 2001:db8:bad::/48');
    assert.equal(rules.refusal('192.0.2.1'), 'allow');
    assert.equal(rules.refusal('2001:db9::1'), 'allow');
    assert.equal(rules.refusal('10.9.0.1'), 'deny 10.9.0.0/16', 'the same answer from the cache');
  });

  it('an IPv4 client reported IPv4-mapped (dual-stack listener) matches IPv4 ranges, and a zone is not part of the address', () => {
    const rules = compileIpRules({ allow: ['192.0.2.0/24', 'fe80::/10'], deny: [] })!;
    assert.equal(rules.refusal('::ffff:192.0.2.7'), undefined);
    assert.equal(rules.refusal('::ffff:198.51.100.7'), 'allow');
    assert.equal(rules.refusal('fe80::1%eth0'), undefined);
  });

  it('a client address that is missing or not an IP address is refused whenever rules exist (fail closed), even by a deny-only list', () => {
    const rules = compileIpRules({ allow: [], deny: ['203.0.113.0/24'] })!;
    assert.equal(rules.refusal('198.51.100.1'), undefined);
    assert.equal(rules.refusal(undefined), 'no client address');
    assert.equal(rules.refusal(''), 'no client address');
    assert.equal(rules.refusal('not-an-address'), 'unreadable client address');
  });

  it('no rules compile to nothing (no per-request work); a single address is its own /32 or /128', () => {
    assert.equal(compileIpRules(undefined), undefined);
    assert.equal(compileIpRules({ allow: [], deny: [] }), undefined);
    const rules = compileIpRules({ allow: [], deny: ['192.0.2.7', '2001:db8::7'] })!;
    assert.equal(rules.refusal('192.0.2.7'), 'deny 192.0.2.7');
    assert.equal(rules.refusal('192.0.2.8'), undefined);
    assert.equal(rules.refusal('2001:db8::7'), 'deny 2001:db8::7');
    assert.equal(rules.refusal('2001:db8::8'), undefined);
  });

  it('an invalid entry fails config validation with its path, at the top level and in a route', () => {
    const problems = (input: unknown): string[] => {
      try {
        parseConfig(input as never, { source: '(test)' });
        return [];
      } catch (err) {
        return ((err as { problems?: { path: (string | number)[]; message: string }[] }).problems ?? []).map((p) => `${p.path.join('.')}: ${p.message}`);
      }
    };
    const top = problems({ ipRules: { allow: ['10.0.0.0/8', '10.0.0.0/33'], deny: ['gate.example'] } });
    assert.ok(top.some((p) => p.startsWith('ipRules.allow.1:') && p.includes('prefix length')), top.join('\n'));
    assert.ok(top.some((p) => p.startsWith('ipRules.deny.0:') && p.includes('not an IP address')), top.join('\n'));
    const route = problems({ upstreams: { a: { url: 'http://127.0.0.1:9' } }, routes: [{ id: 'r', path: '/', upstream: 'a', access: 'public', ipRules: { allow: ['fe80::1%eth0/64'] } }] });
    assert.ok(route.some((p) => p.startsWith('routes.0.ipRules.allow.0:')), route.join('\n'));
    assert.ok(problems({ ipRules: { allowed: ['10.0.0.0/8'] } }).some((p) => p.startsWith('ipRules')), 'an unknown key is an error too');
  });

  it('a range with bits set past its prefix (10.20.1.0/16, a typo for a /24 that would allow the whole /16) fails validation naming the network it would mean', () => {
    let message = '';
    try {
      parseConfig({ ipRules: { allow: ['10.20.0.0/16', '10.20.1.0/16', '2001:db8:1::/32'] } }, { source: '(test)' });
    } catch (err) {
      message = ((err as { problems?: { path: (string | number)[]; message: string }[] }).problems ?? []).map((p) => `${p.path.join('.')}: ${p.message}`).join('\n');
    }
    assert.match(message, /ipRules\.allow\.1: .*10\.20\.0\.0\/16.*10\.20\.1\.0\/24\?/);
    assert.match(message, /ipRules\.allow\.2: .*2001:db8::\/32/);
    assert.doesNotMatch(message, /ipRules\.allow\.0/, 'a network without host bits is fine');
  });
});

describe('IP rules at the gateway', () => {
  let upstream: TestUpstream;
  let gw: TestGateway;
  const routes = [
    { id: 'admin', path: '/admin', upstream: 'app', access: 'public', ipRules: { allow: ['10.20.0.0/16'] } },
    { id: 'office', path: '/office', upstream: 'app', access: 'public', ipRules: { allow: ['127.0.0.0/8'], deny: ['127.0.0.1'] } },
    { id: 'ws', path: '/ws', upstream: 'app', access: 'public', websocket: true, ipRules: { allow: ['10.20.0.0/16'] } },
    { id: 'app', path: '/', upstream: 'app', access: 'public' },
  ];
  const config = (extra: Record<string, unknown> = {}) => ({
    upstreams: { app: { url: upstream.url } },
    routes,
    ...extra,
  });
  const lineFor = (requestId: string) => gw.logs.lines.find((l) => l.requestId === requestId && l.type === 'access');

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway(config() as never);
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('a client outside an admin route\'s allowed network is refused with 403 ERR_SHIELD_IP_DENIED and never reaches the upstream; other routes still serve it', async () => {
    const before = upstream.received.length;
    const res = await gw.fetch('/admin/users');
    assert.equal(res.status, 403);
    const body = JSON.parse(res.body) as { error: { code: string; message: string; requestId: string } };
    assert.equal(body.error.code, 'ERR_SHIELD_IP_DENIED');
    assert.doesNotMatch(res.body, /10\.20|allow|127\.0\.0\.1/, 'nothing about the rule on the wire');
    assert.equal(upstream.received.length, before, 'the upstream saw nothing');
    const line = lineFor(body.error.requestId);
    assert.equal(line?.stage, 'shield');
    assert.match(String(line?.detail), /client 127\.0\.0\.1 refused by ipRules: route allow of route admin/);
    assert.equal((await gw.fetch('/other')).status, 200, 'a route without rules serves it');
  });

  it('deny wins over a route\'s allow list', async () => {
    const res = await gw.fetch('/office/x');
    assert.equal(res.status, 403);
    const line = lineFor((JSON.parse(res.body) as { error: { requestId: string } }).error.requestId);
    assert.match(String(line?.detail), /route deny 127\.0\.0\.1 of route office/);
  });

  it('a WebSocket handshake from outside a route\'s allowed network is refused with 403 before any tunnel is opened', async () => {
    const head = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: gw.gateway.addresses().https.port, rejectUnauthorized: false, servername: 'localhost' });
      let data = '';
      const done = () => { socket.destroy(); resolve(data); };
      const timer = setTimeout(done, 3000);
      socket.once('secureConnect', () => socket.write('GET /ws/chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'));
      socket.on('data', (d: Buffer) => { data += d.toString('latin1'); if (data.includes('\r\n\r\n')) { clearTimeout(timer); done(); } });
      socket.once('error', (err) => { clearTimeout(timer); if (data) resolve(data); else reject(err); });
    });
    assert.match(head, /^HTTP\/1\.1 403 /, head);
    assert.doesNotMatch(head, /101 Switching/);
    const id = /x-request-id: (\S+)/i.exec(head)?.[1];
    const line = id === undefined ? undefined : lineFor(id);
    assert.deepEqual([line?.route, line?.stage, line?.code], ['ws', 'shield', 'ERR_SHIELD_IP_DENIED'], head);
  });

  it('a spoofed X-Forwarded-For naming an allowed address, from an untrusted peer, does not get past an allow list', async () => {
    const res = await gw.fetch('/admin/users', { headers: { 'x-forwarded-for': '10.20.1.1', forwarded: 'for=10.20.1.1' } });
    assert.equal(res.status, 403);
    assert.match(res.body, /ERR_SHIELD_IP_DENIED/);
  });

  it('behind a trusted proxy, the client it names is checked: an allowed one passes, another is refused; a top-level deny refuses even unknown paths (no 404 to map routes by) and Gatehouse\'s own endpoints; a reload lifts it', async () => {
    await gw.writeConfig(config({ trustedProxies: ['127.0.0.1'], ipRules: { deny: ['203.0.113.0/24'] } }) as never);
    assert.equal((await gw.gateway.reload('test')).applied, true);
    const before = upstream.received.length;
    assert.equal((await gw.fetch('/admin/users', { headers: { 'x-forwarded-for': '10.20.1.1' } })).status, 200, 'allowed client behind the proxy');
    assert.equal(upstream.received.length, before + 1);
    assert.equal((await gw.fetch('/admin/users', { headers: { 'x-forwarded-for': '192.0.2.1' } })).status, 403, 'another client behind the proxy');

    for (const path of ['/admin/users', '/anything', '/.well-known/openid-configuration']) {
      const res = await gw.fetch(path, { headers: { 'x-forwarded-for': '203.0.113.9' } });
      assert.equal(res.status, 403, path);
      assert.match(res.body, /ERR_SHIELD_IP_DENIED/, path);
    }
    const unknownHost = await gw.fetch('/x', { headers: { 'x-forwarded-for': '203.0.113.9', host: 'unknown.example' } });
    assert.equal(unknownHost.status, 403, 'an unknown host is refused as such, not answered 404');
    assert.match(String(lineFor((JSON.parse(unknownHost.body) as { error: { requestId: string } }).error.requestId)?.detail), /global deny 203\.0\.113\.0\/24/);

    await gw.writeConfig(config({ trustedProxies: ['127.0.0.1'] }) as never);
    assert.equal((await gw.gateway.reload('test')).applied, true);
    assert.equal((await gw.fetch('/anything', { headers: { 'x-forwarded-for': '203.0.113.9' } })).status, 200, 'the reload lifted the top-level deny');
  });

  it('a reload with an invalid rule is refused and the running rules keep serving', async () => {
    await gw.writeConfig(config({ ipRules: { deny: ['127.0.0.0/40'] } }) as never);
    const result = await gw.gateway.reload('test');
    assert.equal(result.applied, false);
    assert.equal((await gw.fetch('/other')).status, 200);
    assert.equal((await gw.fetch('/admin/users')).status, 403);
  });
});

describe('IP rules with the components composed (audit, identity provider)', () => {
  let g: AuditedGateway;

  before(async () => {
    g = await startAuditedGateway({
      ipRules: { allow: ['127.0.0.0/8'], deny: ['127.0.0.2'] },
      ratelimit: { edge: { enabled: false } },
      routes: [{ id: 'ops-console', path: '/console', upstream: 'app', access: 'public', ipRules: { allow: ['10.0.0.0/8'] } }],
    } as never);
  });
  after(async () => { await g?.close(); });

  it('the refused request\'s audit record names the rule that refused it; the identity provider\'s endpoints still serve an allowed client', async () => {
    const res = await g.gw.fetch('/console/');
    assert.equal(res.status, 403);
    const [record] = await g.recordsOf((JSON.parse(res.body) as { error: { requestId: string } }).error.requestId);
    assert.ok(record, 'the refused request was recorded');
    const details = record.details as Record<string, unknown>;
    assert.equal(details.errorCode, 'ERR_SHIELD_IP_DENIED');
    assert.equal(details.ipRule, 'route allow');
    assert.equal(record.outcome, 'denied');
    assert.equal((await g.gw.fetch('/.well-known/openid-configuration')).status, 200, 'the top-level allow list lets 127.0.0.1 reach the IdP');
  });
});
