/**
 * Cross-site WebSocket hijacking against a real gateway over real TLS: a page on another
 * origin (a sibling subdomain is same-site, so SameSite=Lax sends the cookie) opens a
 * WebSocket to a session-authenticated route. The handshake is a GET, but what follows is a
 * two-way channel acting as the victim, so it is judged like a cross-site write.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { statusOf } from '../support/raw-tls.ts';
import { createAuthenticateStage } from '../../src/gateway/pipeline/authenticate.ts';
import { createLocalInvalidationChannel } from '../../src/authn/local-invalidation.ts';
import { SessionManager } from '../../src/authn/session/session-manager.ts';
import { MemorySessionStore } from '../../src/authn/session/memory-session-store.ts';
import { SESSION_COOKIE } from '../../src/authn/session/cookies.ts';
import { TestDirectory } from '../authn/support/directory.ts';

/** Sends a WebSocket handshake and returns what came back within a short wait (the 101 head, or an error response). */
function handshake(port: number, headers: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
    let data = '';
    const done = () => { socket.destroy(); resolve(data); };
    const timer = setTimeout(done, 2000);
    socket.once('secureConnect', () => socket.write(
      `GET /ws/chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${headers}\r\n`));
    socket.on('data', (d: Buffer) => { data += d.toString('latin1'); if (data.includes('\r\n\r\n')) { clearTimeout(timer); done(); } });
    socket.once('end', () => { clearTimeout(timer); done(); });
    socket.once('error', (err) => { clearTimeout(timer); if (data) resolve(data); else reject(err); });
  });
}

describe('WebSocket handshakes carried by the session cookie', () => {
  let gw: TestGateway;
  let ws: Server;
  let sessions: SessionManager;
  let cookie: string;
  const upgrades: string[] = [];

  before(async () => {
    ws = createServer();
    ws.on('upgrade', (req, socket) => {
      upgrades.push(String(req.headers.origin));
      socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n');
    });
    await new Promise<void>((r) => ws.listen(0, '127.0.0.1', r));
    const channel = createLocalInvalidationChannel();
    const directory = new TestDirectory(channel.publish);
    const alice = directory.add({ subject: 'alice', roles: ['reader'] });
    sessions = new SessionManager({
      store: new MemorySessionStore(), principals: directory, onInvalidate: channel.onInvalidate, publish: channel.publish,
      idleTimeoutMs: 60_000, absoluteTimeoutMs: 3_600_000, touchIntervalMs: 60_000, maxCachedSessions: 100,
    });
    const authenticate = createAuthenticateStage({ sessions, publicOrigin: 'https://localhost', maxTokenBytes: 8192 });
    gw = await startGateway({
      upstreams: { ws: { url: `http://127.0.0.1:${(ws.address() as AddressInfo).port}` } },
      routes: [{ id: 'ws', path: '/ws', upstream: 'ws', access: 'authenticated', websocket: true, authentication: { methods: ['session'] } }],
    }, { extensions: [{ name: 'test-authn', stages: () => ({ authenticate }) }] });
    const { cookieValue } = await sessions.create(alice, { issuer: 'https://localhost', amr: ['pwd'], authTime: Math.floor(Date.now() / 1000) });
    cookie = `Cookie: ${SESSION_COOKIE}=${cookieValue}\r\n`;
  });
  after(async () => { await gw.close(); sessions.close(); ws.closeAllConnections(); ws.close(); });

  for (const [name, from] of [
    ['another site (Sec-Fetch-Site: cross-site)', 'Origin: https://evil.example\r\nSec-Fetch-Site: cross-site\r\n'],
    ['a sibling subdomain (Sec-Fetch-Site: same-site)', 'Origin: https://evil.localhost\r\nSec-Fetch-Site: same-site\r\n'],
    ['another origin, from a browser without Sec-Fetch-Site', 'Origin: https://evil.example\r\n'],
  ] as const) {
    it(`refuses a WebSocket handshake from ${name} carried by the session cookie with 403 ERR_AUTHN_CROSS_SITE_REQUEST (cross-site WebSocket hijacking)`, async () => {
      const before = upgrades.length;
      const answer = await handshake(gw.gateway.addresses().https.port, cookie + from);
      assert.equal(statusOf(answer), 403, answer);
      assert.match(answer, /ERR_AUTHN_CROSS_SITE_REQUEST/);
      assert.equal(upgrades.length, before, 'the upstream never saw the handshake');
    });
  }

  it('lets a same-origin WebSocket handshake with the session cookie through (101)', async () => {
    for (const from of ['Origin: https://localhost\r\nSec-Fetch-Site: same-origin\r\n', 'Origin: https://localhost\r\n', '']) {
      const answer = await handshake(gw.gateway.addresses().https.port, cookie + from);
      assert.equal(statusOf(answer), 101, `${JSON.stringify(from)}: ${answer}`);
    }
  });
});
