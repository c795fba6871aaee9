/**
 * The identity assertion end to end over real sockets: the gateway-side signer and JWKS
 * handler on one node:http server, a protected service using the SDK on another, fetching
 * the JWKS by URL. Every forgery and misuse must be refused with its own code.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, generateKeyPair, importJWK, exportJWK, base64url } from 'jose';
import { createAssertionSigner, type AssertionSigner } from '../../src/gateway/assertion/signer.ts';
import type { StoredSigningKey } from '../../src/gateway/assertion/key-ring.ts';
import { createAssertionJwksHandler } from '../../src/gateway/assertion/jwks-handler.ts';
import type { Identity } from '../../src/gateway/context.ts';
import {
  IDENTITY_ASSERTION_HEADER, IDENTITY_ASSERTION_JWKS_PATH, IDENTITY_ASSERTION_TYP,
  createAssertionVerifier, gatehouseExpress, gatehouseFastify, identityOf, requireRole, sendError, withGatehouseIdentity,
  type AssertionVerifier, type FastifyReplyLike,
} from '../../src/sdk/index.ts';

const ISSUER = 'https://gateway.test';

function identity(over: Partial<Identity> = {}): Identity {
  return {
    subject: 'alice', kind: 'user', roles: ['mail-user'], method: 'session', amr: ['pwd', 'otp'],
    authTime: Math.floor(Date.now() / 1000) - 30, mfaTime: undefined, credentialId: 'sess-1', issuer: ISSUER, attributes: {},
    ...over,
  };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function call(base: string, path: string, init: { method?: string; token?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token !== undefined) headers[IDENTITY_ASSERTION_HEADER] = init.token;
  const res = await fetch(base + path, { method: init.method ?? 'GET', headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) as Record<string, any> : {} };
}

describe('identity assertion: gateway signer → service SDK over node:http', () => {
  let signer: AssertionSigner;
  let keys: { current: StoredSigningKey; next: StoredSigningKey };
  let gateway: Server;
  let service: Server;
  let serviceUrl: string;
  let jwksUrl: string;
  let verifier: AssertionVerifier;

  before(async () => {
    signer = await createAssertionSigner({ issuer: ISSUER, ttlSeconds: 60, onKeysChanged: (k) => { keys = k; } });
    const jwks = createAssertionJwksHandler(signer);
    gateway = createServer((req, res) => {
      try {
        // The JWKS handler does not read the request context; a plain server stands in for the gateway here.
        void jwks.handle(req, res, undefined as never);
      } catch (err) {
        sendError(res, err);
      }
    });
    jwksUrl = (await listen(gateway)) + IDENTITY_ASSERTION_JWKS_PATH;
    verifier = createAssertionVerifier({ jwksUrl, issuer: ISSUER, audience: 'mail-store' });
    service = createServer(withGatehouseIdentity(verifier, (req, res) => {
      const id = identityOf(req)!;
      if (req.url?.startsWith('/admin')) {
        try { requireRole(id, 'mail-admin'); } catch (err) { sendError(res, err); return; }
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ subject: id.subject, kind: id.kind, roles: id.roles, requestId: id.requestId ?? null }));
    }));
    serviceUrl = await listen(service);
  });

  after(() => {
    signer.close();
    gateway.close();
    service.close();
  });

  test('accepts a cached assertion and exposes the identity', async () => {
    const token = await signer.sign(identity(), 'mail-store');
    const r = await call(serviceUrl, '/messages', { token });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { subject: 'alice', kind: 'user', roles: ['mail-user'], requestId: null });
  });

  test('cached mode signs once per identity and upstream', async () => {
    const a = await signer.sign(identity({ subject: 'carol' }), 'mail-store');
    const b = await signer.sign(identity({ subject: 'carol' }), 'mail-store');
    assert.equal(a, b);
    assert.equal(signer.cached(identity({ subject: 'carol' }), 'mail-store'), a);
    const other = await signer.sign(identity({ subject: 'carol' }), 'mail-web');
    assert.notEqual(other, a);
    const promoted = await signer.sign(identity({ subject: 'carol', roles: ['mail-user', 'mail-admin'] }), 'mail-store');
    assert.notEqual(promoted, a, 'a role change must not reuse the old assertion');
  });

  test('refuses a request without an assertion with 401 ERR_SDK_ASSERTION_MISSING', async () => {
    const r = await call(serviceUrl, '/messages');
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'ERR_SDK_ASSERTION_MISSING');
  });

  test('refuses an assertion forged with an attacker key under the real kid', async () => {
    const real = JSON.parse(signer.jwksJson()) as { keys: { kid: string }[] };
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ sub: 'mallory', kind: 'user', roles: ['mail-admin'], amr: ['pwd'], auth_method: 'session' })
      .setProtectedHeader({ alg: 'ES256', typ: IDENTITY_ASSERTION_TYP, kid: real.keys[0]!.kid })
      .setIssuer(ISSUER).setAudience('mail-store').setIssuedAt().setExpirationTime('1m').setJti('x').sign(privateKey);
    const r = await call(serviceUrl, '/admin', { token: forged });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'ERR_SDK_ASSERTION_INVALID');
  });

  test('refuses an unsigned (alg none) assertion', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: IDENTITY_ASSERTION_TYP }));
    const now = Math.floor(Date.now() / 1000);
    const payload = base64url.encode(JSON.stringify({ iss: ISSUER, aud: 'mail-store', sub: 'mallory', kind: 'user', roles: ['mail-admin'], amr: [], auth_method: 'session', iat: now, exp: now + 60, jti: 'n' }));
    const r = await call(serviceUrl, '/admin', { token: `${header}.${payload}.` });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'ERR_SDK_ASSERTION_INVALID');
  });

  test('refuses another JWT type signed by the same key (an access token passed off as an assertion)', async () => {
    const key = await importJWK(keys.current.privateJwk, 'ES256');
    const accessToken = await new SignJWT({ sub: 'alice', kind: 'user', roles: ['mail-admin'], amr: [], auth_method: 'jwt' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: keys.current.kid })
      .setIssuer(ISSUER).setAudience('mail-store').setIssuedAt().setExpirationTime('1m').setJti('t').sign(key);
    const r = await call(serviceUrl, '/admin', { token: accessToken });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'ERR_SDK_ASSERTION_INVALID');
  });

  test('refuses an assertion for another audience with ERR_SDK_ASSERTION_AUDIENCE', async () => {
    const token = await signer.sign(identity(), 'billing');
    const r = await call(serviceUrl, '/messages', { token });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'ERR_SDK_ASSERTION_AUDIENCE');
  });

  test('refuses an expired assertion with ERR_SDK_ASSERTION_EXPIRED', async () => {
    const past = await createAssertionSigner({ issuer: ISSUER, ttlSeconds: 60, clock: () => Date.now() - 10 * 60_000, keys });
    try {
      const token = await past.sign(identity(), 'mail-store');
      const r = await call(serviceUrl, '/messages', { token });
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, 'ERR_SDK_ASSERTION_EXPIRED');
    } finally {
      past.close();
    }
  });

  test('refuses an assertion from another issuer', async () => {
    const other = await createAssertionSigner({ issuer: 'https://evil.test', keys });
    try {
      const r = await call(serviceUrl, '/messages', { token: await other.sign(identity(), 'mail-store') });
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, 'ERR_SDK_ASSERTION_INVALID');
    } finally {
      other.close();
    }
  });

  test('accepts a per-request assertion on its own method, path and request id', async () => {
    const token = await signer.signBound(identity(), 'mail-store', { requestId: 'req-1', method: 'POST', path: '/messages/42' });
    const r = await call(serviceUrl, '/messages/42?x=1', { method: 'POST', token, headers: { 'x-request-id': 'req-1' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.requestId, 'req-1');
  });

  test('refuses a per-request assertion replayed on another path', async () => {
    const token = await signer.signBound(identity(), 'mail-store', { requestId: 'req-2', method: 'GET', path: '/messages/42' });
    const r = await call(serviceUrl, '/messages/43', { token });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'ERR_SDK_ASSERTION_BINDING');
  });

  test('refuses a per-request assertion replayed with another method', async () => {
    const token = await signer.signBound(identity(), 'mail-store', { requestId: 'req-3', method: 'GET', path: '/messages/42' });
    const r = await call(serviceUrl, '/messages/42', { method: 'DELETE', token });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'ERR_SDK_ASSERTION_BINDING');
  });

  test('refuses a per-request assertion replayed under another request id', async () => {
    const token = await signer.signBound(identity(), 'mail-store', { requestId: 'req-4', method: 'GET', path: '/messages/42' });
    const r = await call(serviceUrl, '/messages/42', { token, headers: { 'x-request-id': 'req-5' } });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'ERR_SDK_ASSERTION_BINDING');
  });

  test('refuses a bound path that differs only by an encoded slash', async () => {
    const token = await signer.signBound(identity(), 'mail-store', { requestId: 'req-6', method: 'GET', path: '/messages/a%2Fb' });
    const r = await call(serviceUrl, '/messages/a/b', { token });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'ERR_SDK_ASSERTION_BINDING');
  });

  test('refuses a bound path with an encoded percent (%252F) replayed on the encoded slash it decodes to (%2F)', async () => {
    const token = await signer.signBound(identity(), 'mail-store', { requestId: 'req-6b', method: 'GET', path: '/messages/a%252Fb' });
    const r = await call(serviceUrl, '/messages/a%2Fb', { token });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'ERR_SDK_ASSERTION_BINDING');
  });

  test('accepts a bound path that differs only in how unreserved characters or hex digits are escaped', async () => {
    const token = await signer.signBound(identity(), 'mail-store', { requestId: 'req-6c', method: 'GET', path: '/messages/%7Ealice/caf%c3%a9' });
    const r = await call(serviceUrl, '/messages/~alice/caf%C3%A9', { token });
    assert.equal(r.status, 200);
  });

  test('refuses a second use of a per-request assertion when replay protection is on', async () => {
    const strict = createAssertionVerifier({ jwksUrl, issuer: ISSUER, audience: 'mail-store', rejectReplayedRequestIds: true });
    const token = await signer.signBound(identity(), 'mail-store', { requestId: 'req-7', method: 'GET', path: '/x' });
    await strict.verify(token, { method: 'GET', url: '/x' });
    await assert.rejects(strict.verify(token, { method: 'GET', url: '/x' }), { code: 'ERR_SDK_ASSERTION_REPLAYED' });
  });

  test('with requireRequestBinding, refuses a cached (unbound) assertion passed off on a per-request route, and a bound one without x-request-id', async () => {
    const strict = createAssertionVerifier({ jwksUrl, issuer: ISSUER, audience: 'mail-store', requireRequestBinding: true });
    const strictService = createServer(withGatehouseIdentity(strict, (req, res) => res.end(identityOf(req)!.subject)));
    const base = await listen(strictService);
    try {
      const cached = await signer.sign(identity(), 'mail-store');
      const r1 = await call(base, '/messages/42', { method: 'DELETE', token: cached });
      assert.equal(r1.status, 401);
      assert.equal(r1.body.error.code, 'ERR_SDK_ASSERTION_BINDING');
      const bound = await signer.signBound(identity(), 'mail-store', { requestId: 'req-8', method: 'DELETE', path: '/messages/42' });
      const r2 = await call(base, '/messages/42', { method: 'DELETE', token: bound });
      assert.equal(r2.status, 401);
      assert.equal(r2.body.error.code, 'ERR_SDK_ASSERTION_BINDING');
      const res = await fetch(base + '/messages/42', { method: 'DELETE', headers: { [IDENTITY_ASSERTION_HEADER]: bound, 'x-request-id': 'req-8' } });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'alice');
    } finally {
      strictService.close();
    }
  });

  test('refuses two assertion headers', async () => {
    const token = await signer.sign(identity(), 'mail-store');
    const { connect } = await import('node:net');
    const u = new URL(serviceUrl);
    // Raw bytes: node joins duplicates of unknown headers with ", " before the SDK sees them.
    const raw = await new Promise<string>((resolve, reject) => {
      let out = '';
      const sock = connect(Number(u.port), u.hostname, () => {
        sock.write(`GET /messages HTTP/1.1\r\nHost: x\r\n${IDENTITY_ASSERTION_HEADER}: ${token}\r\n${IDENTITY_ASSERTION_HEADER}: ${token}\r\nConnection: close\r\n\r\n`);
      });
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => { out += d; });
      sock.on('end', () => resolve(out));
      sock.on('error', reject);
    });
    const res = { status: Number(raw.split(' ')[1]), body: raw.slice(raw.indexOf('\r\n\r\n') + 4) };
    assert.equal(res.status, 401);
    assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'ERR_SDK_ASSERTION_INVALID');
  });

  test('a throwing onRefused hook still answers the refused request with 401 and neither hangs it nor crashes the service (express and node:http)', async () => {
    const onRefused = () => { throw new Error('logger broke'); };
    const mw = gatehouseExpress(verifier, { onRefused });
    const express = createServer((req, res) => mw(req, res, () => res.end('passed')));
    const plain = createServer(withGatehouseIdentity(verifier, (_req, res) => res.end('passed'), { onRefused }));
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => { unhandled.push(e); };
    process.on('unhandledRejection', onUnhandled);
    try {
      for (const server of [express, plain]) {
        const base = await listen(server);
        const res = await fetch(base + '/messages', { signal: AbortSignal.timeout(3000) });
        assert.equal(res.status, 401);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'ERR_SDK_ASSERTION_MISSING');
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      express.close();
      plain.close();
    }
  });

  test('local role check refuses a user without the role with 403 ERR_SDK_FORBIDDEN', async () => {
    const r = await call(serviceUrl, '/admin', { token: await signer.sign(identity(), 'mail-store') });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'ERR_SDK_FORBIDDEN');
    const ok = await call(serviceUrl, '/admin', { token: await signer.sign(identity({ roles: ['mail-admin'] }), 'mail-store') });
    assert.equal(ok.status, 200);
  });

  test('after a key rotation, new and still-valid old assertions both verify', async () => {
    const before = await signer.sign(identity({ subject: 'rot' }), 'mail-store');
    await signer.rotate();
    const afterRotation = await signer.sign(identity({ subject: 'rot' }), 'mail-store');
    assert.notEqual(afterRotation, before);
    for (const token of [before, afterRotation]) {
      const r = await call(serviceUrl, '/messages', { token });
      assert.equal(r.status, 200);
    }
  });

  test('express-style middleware refuses without assertion and passes identity with one', async () => {
    const app = createServer((req, res) => {
      gatehouseExpress(verifier)(req, res, () => {
        res.end(JSON.stringify({ subject: identityOf(req)?.subject }));
      });
    });
    const base = await listen(app);
    try {
      assert.equal((await call(base, '/')).status, 401);
      const ok = await call(base, '/', { token: await signer.sign(identity(), 'mail-store') });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.subject, 'alice');
    } finally {
      app.close();
    }
  });

  test('express middleware mounted on a sub-path: an assertion bound to /messages replayed on /api/messages is refused, one bound to /api/messages is accepted', async () => {
    // What Express does for app.use('/api', middleware): req.url loses the mount path,
    // req.originalUrl keeps the request target as received.
    const middleware = gatehouseExpress(verifier);
    const app = createServer((req, res) => {
      const mounted = Object.assign(req, { originalUrl: req.url });
      if (req.url?.startsWith('/api/')) req.url = req.url.slice('/api'.length);
      middleware(mounted, res, () => res.end(JSON.stringify({ subject: identityOf(req)?.subject })));
    });
    const base = await listen(app);
    try {
      const elsewhere = await signer.signBound(identity(), 'mail-store', { requestId: 'req-m1', method: 'GET', path: '/messages' });
      const replayed = await call(base, '/api/messages', { token: elsewhere, headers: { 'x-request-id': 'req-m1' } });
      assert.equal(replayed.status, 401);
      assert.equal(replayed.body.error.code, 'ERR_SDK_ASSERTION_BINDING');
      const own = await signer.signBound(identity(), 'mail-store', { requestId: 'req-m2', method: 'GET', path: '/api/messages' });
      const ok = await call(base, '/api/messages', { token: own, headers: { 'x-request-id': 'req-m2' } });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.subject, 'alice');
    } finally {
      app.close();
    }
  });

  test('fastify-style hook refuses without assertion, and optional mode lets it through without identity', async () => {
    const strictHook = gatehouseFastify(verifier);
    const optionalHook = gatehouseFastify(verifier, { optional: true });
    const app = createServer(async (req, res) => {
      const request = { method: req.method!, url: req.url!, headers: req.headers, raw: req };
      let sent = false;
      const reply: FastifyReplyLike = {
        code(s) { res.statusCode = s; return reply; },
        header(n, v) { res.setHeader(n, v); return reply; },
        send(b) { sent = true; res.end(b); return reply; },
      };
      await (req.url === '/optional' ? optionalHook : strictHook)(request, reply);
      if (!sent) res.end(JSON.stringify({ subject: identityOf(req)?.subject ?? null }));
    });
    const base = await listen(app);
    try {
      const refused = await call(base, '/strict');
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error.code, 'ERR_SDK_ASSERTION_MISSING');
      const anonymous = await call(base, '/optional');
      assert.equal(anonymous.status, 200);
      assert.equal(anonymous.body.subject, null);
      const forgedInOptional = await call(base, '/optional', { token: 'a.b.c' });
      assert.equal(forgedInOptional.status, 401, 'optional mode still refuses an invalid assertion');
      const ok = await call(base, '/strict', { token: await signer.sign(identity(), 'mail-store') });
      assert.equal(ok.body.subject, 'alice');
    } finally {
      app.close();
    }
  });

  test('the JWKS endpoint publishes only public keys', async () => {
    const res = await fetch(jwksUrl);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/jwk-set+json');
    const body = await res.json() as { keys: Record<string, unknown>[] };
    assert.ok(body.keys.length >= 2);
    for (const k of body.keys) {
      assert.equal(k.d, undefined, 'no private key material');
      assert.equal(k.alg, 'ES256');
    }
    // Sanity: the published next key is exportable and distinct from the current one.
    assert.notEqual(body.keys[0]!.kid, body.keys[1]!.kid);
    assert.ok(await exportJWK((await generateKeyPair('ES256')).publicKey));
  });
});
