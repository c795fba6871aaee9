/** The SDK fetches the gateway's assertion keys over HTTPS from a private CA only when told to trust it. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAssertionSigner } from '../../src/gateway/assertion/signer.ts';
import { ensureDevCertificate } from '../../src/gateway/tls/dev-certificate.ts';
import { createAssertionVerifier } from '../../src/sdk/index.ts';
import type { Identity } from '../../src/gateway/context.ts';

const ISSUER = 'https://gw.test';
const alice: Identity = { subject: 'alice', kind: 'user', roles: [], method: 'session', amr: ['pwd'], authTime: 1, mfaTime: undefined, credentialId: 's', issuer: undefined, attributes: {} };

test('verifies assertions with keys fetched from a gateway whose certificate is from a private CA, only when that CA is given', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sdk-ca-'));
  const tls = await ensureDevCertificate(dir);
  const signer = await createAssertionSigner({ issuer: ISSUER });
  const server = createServer({ cert: tls.cert, key: tls.key }, (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(signer.jwksJson()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  after(async () => { signer.close(); server.close(); await rm(dir, { recursive: true, force: true }); });
  const jwksUrl = `https://localhost:${(server.address() as AddressInfo).port}/jwks`;
  const token = await signer.sign(alice, 'app');

  const untrusting = createAssertionVerifier({ jwksUrl, issuer: ISSUER, audience: 'app' });
  await assert.rejects(untrusting.verify(token, { method: 'GET', url: '/' }), { code: 'ERR_SDK_KEYS_UNAVAILABLE' });

  const trusting = createAssertionVerifier({ jwksUrl, issuer: ISSUER, audience: 'app', ca: tls.cert });
  const identity = await trusting.verify(token, { method: 'GET', url: '/' });
  assert.equal(identity.subject, 'alice');
});

test('refuses a JWKS URL in clear text to another host (an on-path attacker could serve its own keys and forge any identity); https and loopback http are accepted', () => {
  const base = { issuer: ISSUER, audience: 'app' };
  for (const jwksUrl of ['http://gateway.example/.well-known/gatehouse/assertion-jwks.json', 'http://10.0.0.5:8080/jwks', 'ftp://gateway.example/jwks']) {
    assert.throws(() => createAssertionVerifier({ ...base, jwksUrl }), TypeError, jwksUrl);
  }
  for (const jwksUrl of ['https://gateway.example/jwks', 'http://127.0.0.1:8080/jwks', 'http://[::1]:8080/jwks', 'http://localhost:8080/jwks']) {
    assert.doesNotThrow(() => createAssertionVerifier({ ...base, jwksUrl }), jwksUrl);
  }
});
