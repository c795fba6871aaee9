/**
 * A key set endpoint that answers with far more than any key set needs — hostile, compromised or
 * broken — must not be read whole into memory. jose reads a remote JWKS completely before parsing
 * it; the JWKS of an `authn.issuers` entry (read by the gateway) and the gateway's assertion JWKS
 * (read by services through the SDK) were unbounded, so an endpoint streaming gigabytes would
 * exhaust the reader's memory. Now both read at most 1 MiB (src/core/http/bounded-fetch.ts), with
 * or without a Content-Length, and the keys count as unavailable. A real HTTP server on loopback.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createJwksKeys } from '../../src/authn/jwt/jwks-keys.ts';
import { createAssertionVerifier } from '../../src/sdk/verifier.ts';
import { IDENTITY_ASSERTION_ALG, IDENTITY_ASSERTION_TYP } from '../../src/sdk/contract.ts';

const PADDING = 'x'.repeat(2 * 1024 * 1024);

describe('an oversized JWKS answer', () => {
  let server: Server;
  let base: string;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

  before(async () => {
    const pair = await generateKeyPair(IDENTITY_ASSERTION_ALG, { extractable: true });
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: IDENTITY_ASSERTION_ALG, use: 'sig' };
    const small = JSON.stringify({ keys: [jwk] });
    // A valid key set, with a member nobody reads that makes it 2 MiB.
    const big = JSON.stringify({ keys: [jwk], padding: PADDING });
    server = createServer((req, res) => {
      if (req.url === '/small') res.writeHead(200, { 'content-type': 'application/json' }).end(small);
      else if (req.url === '/declared') res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(big) }).end(big);
      else if (req.url === '/chunked') {
        // No Content-Length: the size shows only as it is read.
        res.writeHead(200, { 'content-type': 'application/json' });
        for (let at = 0; at < big.length; at += 64 * 1024) res.write(big.slice(at, at + 64 * 1024));
        res.end();
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const resolveK1 = (path: string) => createJwksKeys({ url: `${base}${path}`, cacheMaxAgeMs: 60_000, cooldownMs: 0, timeoutMs: 5_000 })({ alg: IDENTITY_ASSERTION_ALG, kid: 'k1' }, { payload: '', signature: '' });

  it('an issuer\'s JWKS of normal size resolves its key (the control)', async () => {
    assert.ok(await resolveK1('/small'));
  });

  for (const path of ['/declared', '/chunked']) {
    it(`an issuer's JWKS of 2 MiB (${path.slice(1)}) is not read: ERR_AUTHN_KEYS_UNAVAILABLE`, async () => {
      await assert.rejects(resolveK1(path), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_AUTHN_KEYS_UNAVAILABLE');
        assert.match(e.message + String((e as { detail?: string }).detail), /exceeds 1048576 bytes/);
        return true;
      });
    });
  }

  it('a service\'s SDK verifier does not read a 2 MiB assertion JWKS: ERR_SDK_KEYS_UNAVAILABLE', async () => {
    const token = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: IDENTITY_ASSERTION_ALG, typ: IDENTITY_ASSERTION_TYP, kid: 'k1' })
      .setIssuer('https://gateway.example').setAudience('svc').setIssuedAt().setExpirationTime('1m').sign(privateKey);
    const verifier = createAssertionVerifier({ jwksUrl: `${base}/chunked`, issuer: 'https://gateway.example', audience: 'svc' });
    await assert.rejects(verifier.verify(token), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_SDK_KEYS_UNAVAILABLE');
      assert.match(e.message + String((e as { detail?: string }).detail), /exceeds 1048576 bytes/);
      return true;
    });
  });
});
