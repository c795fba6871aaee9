/**
 * The SDK middleware removes Gatehouse's unsigned `x-gatehouse-*` headers from every request
 * it lets through: an application behind it that reads them (out of habit, or a library that
 * does) must not believe values nobody signed. Real sockets, a real signer, every wrapper.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JSONWebKeySet } from 'jose';
import { createAssertionSigner, type AssertionSigner } from '../../src/gateway/assertion/signer.ts';
import type { Identity } from '../../src/gateway/context.ts';
import {
  IDENTITY_ASSERTION_HEADER, createAssertionVerifier, gatehouseExpress, gatehouseFastify, identityOf, withGatehouseIdentity, withGatehouseUpgrade,
  type AssertionVerifier, type FastifyReplyLike, type MiddlewareOptions,
} from '../../src/sdk/index.ts';

const ISSUER = 'https://gateway.test';
const alice: Identity = {
  subject: 'alice', kind: 'user', roles: ['mail-user'], method: 'session', amr: ['pwd'], authTime: undefined, mfaTime: undefined,
  credentialId: 'sess-1', issuer: ISSUER, attributes: {},
};

/** What an attacker who reaches the service directly sends, in mixed letter case. */
const FORGED: Record<string, string> = {
  'x-gatehouse-subject': 'root',
  'X-Gatehouse-Roles': 'mail-admin',
  'x-gatehouse-kind': 'service',
  'X-GATEHOUSE-APPROVAL': 'apv_forged; approver=mallory',
  'x-gatehouse-peer': 'spiffe://example/svc/gatehouse',
};

/** Everything the application could read about Gatehouse from the request. */
function seen(req: IncomingMessage) {
  const lower = (n: string) => n.toLowerCase();
  return {
    subject: identityOf(req)?.subject ?? null,
    roles: identityOf(req)?.roles ?? null,
    headers: Object.keys(req.headers).filter((n) => lower(n).startsWith('x-gatehouse-')).sort(),
    raw: req.rawHeaders.filter((_, i) => i % 2 === 0).map(lower).filter((n) => n.startsWith('x-gatehouse-')).sort(),
    distinct: Object.keys(req.headersDistinct).filter((n) => lower(n).startsWith('x-gatehouse-')).sort(),
  };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function call(base: string, headers: Record<string, string>) {
  const res = await fetch(`${base}/messages`, { headers });
  return { status: res.status, body: await res.json() as Record<string, any> };
}

type Wrapper = (verifier: AssertionVerifier, options: MiddlewareOptions) => Server;

const wrappers: Record<string, Wrapper> = {
  'node:http': (verifier, options) => createServer(withGatehouseIdentity(verifier, (req, res) => { res.end(JSON.stringify(seen(req))); }, options)),
  express: (verifier, options) => {
    const mw = gatehouseExpress(verifier, options);
    return createServer((req, res) => mw(req, res, () => res.end(JSON.stringify(seen(req)))));
  },
  fastify: (verifier, options) => {
    const hook = gatehouseFastify(verifier, options);
    return createServer(async (req, res) => {
      // Fastify's request.headers is the raw request's headers object.
      const request = { method: req.method!, url: req.url!, headers: req.headers, raw: req };
      let sent = false;
      const reply: FastifyReplyLike = {
        code(s) { res.statusCode = s; return reply; },
        header(n, v) { res.setHeader(n, v); return reply; },
        send(b) { sent = true; res.end(b); return reply; },
      };
      await hook(request, reply);
      if (!sent) res.end(JSON.stringify(seen(req)));
    });
  },
};

describe('SDK middleware: unsigned x-gatehouse-* headers never reach the application', () => {
  let signer: AssertionSigner;
  let verifier: AssertionVerifier;
  const servers: Server[] = [];

  before(async () => {
    signer = await createAssertionSigner({ issuer: ISSUER });
    verifier = createAssertionVerifier({ jwks: JSON.parse(signer.jwksJson()) as JSONWebKeySet, issuer: ISSUER, audience: 'mail-store' });
  });
  after(() => {
    signer.close();
    for (const s of servers) s.close();
  });

  async function start(name: string, options: MiddlewareOptions = {}): Promise<string> {
    const server = wrappers[name]!(verifier, options);
    servers.push(server);
    return listen(server);
  }

  for (const name of Object.keys(wrappers)) {
    test(`${name}: a forged x-gatehouse-subject / -roles / -kind / -approval next to a valid assertion never reaches the application: the handler sees only the verified identity`, async () => {
      const base = await start(name);
      const token = await signer.sign(alice, 'mail-store');
      const r = await call(base, { ...FORGED, [IDENTITY_ASSERTION_HEADER]: token });
      assert.equal(r.status, 200);
      assert.equal(r.body.subject, 'alice');
      assert.deepEqual(r.body.roles, ['mail-user']);
      // The signed assertion stays (a service may pass it on or verify it again); nothing else.
      assert.deepEqual(r.body.headers, [IDENTITY_ASSERTION_HEADER]);
      assert.deepEqual(r.body.raw, [IDENTITY_ASSERTION_HEADER]);
      assert.deepEqual(r.body.distinct, [IDENTITY_ASSERTION_HEADER]);
    });

    test(`${name}: with optional, forged identity headers on a request without an assertion do not reach the application either`, async () => {
      const base = await start(name, { optional: true });
      const r = await call(base, FORGED);
      assert.equal(r.status, 200);
      assert.equal(r.body.subject, null);
      assert.deepEqual(r.body.headers, []);
      assert.deepEqual(r.body.raw, []);
    });
  }

  test('keepUnsignedIdentityHeaders: true leaves them for an application that opted in (the verified identity is still the signed one)', async () => {
    const base = await start('node:http', { keepUnsignedIdentityHeaders: true });
    const r = await call(base, { ...FORGED, [IDENTITY_ASSERTION_HEADER]: await signer.sign(alice, 'mail-store') });
    assert.equal(r.status, 200);
    assert.equal(r.body.subject, 'alice');
    assert.deepEqual(r.body.headers, [IDENTITY_ASSERTION_HEADER, ...Object.keys(FORGED).map((n) => n.toLowerCase())].sort());
  });

  test('keepUnsignedIdentityHeaders: [\'X-Gatehouse-Peer\'] keeps only that one (a sidecar\'s peer header); a forged x-gatehouse-roles is still removed', async () => {
    const base = await start('express', { keepUnsignedIdentityHeaders: ['X-Gatehouse-Peer'] });
    const r = await call(base, { ...FORGED, [IDENTITY_ASSERTION_HEADER]: await signer.sign(alice, 'mail-store') });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.headers, [IDENTITY_ASSERTION_HEADER, 'x-gatehouse-peer']);
    assert.deepEqual(r.body.raw, [IDENTITY_ASSERTION_HEADER, 'x-gatehouse-peer']);
  });

  test('an upgrade request with a forged x-gatehouse-roles next to a valid assertion: the upgrade handler sees only the verified identity', async () => {
    const server = createServer();
    servers.push(server);
    let handled: ReturnType<typeof seen> | undefined;
    server.on('upgrade', withGatehouseUpgrade(verifier, (req, socket) => {
      handled = seen(req);
      socket.end('HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: test\r\n\r\n');
    }));
    const base = await listen(server);
    const token = await signer.sign(alice, 'mail-store');
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${base}/ws`, { headers: { ...FORGED, [IDENTITY_ASSERTION_HEADER]: token, connection: 'upgrade', upgrade: 'test' } });
      req.on('upgrade', (_res, socket) => { socket.destroy(); resolve(); });
      req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
    assert.ok(handled);
    assert.equal(handled.subject, 'alice');
    assert.deepEqual(handled.headers, [IDENTITY_ASSERTION_HEADER]);
    assert.deepEqual(handled.raw, [IDENTITY_ASSERTION_HEADER]);
  });
});
