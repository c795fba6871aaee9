/**
 * Micro-measurement of the bearer JWT path: full ES256 verification vs a verified-token cache hit
 * (hash of the token + lookup + revocation + audience). Run: `npx node test/authn/bench/jwt-cache.micro.ts`.
 * Not a test: speed is measured, never asserted.
 */
import { generateKeyPair, SignJWT, exportJWK } from 'jose';
import { authnSchema } from '../../../src/core/config/authn-schema.ts';
import { createAuthn } from '../../../src/authn/create-authn.ts';
import { createLocalInvalidationChannel } from '../../../src/authn/local-invalidation.ts';
import { MemoryRevokedTokenStore } from '../../../src/authn/memory-stores.ts';
import { MemoryLoginStateStore, MemorySessionStore } from '../../../src/authn/session/memory-session-store.ts';
import { JwtAuthenticator } from '../../../src/authn/jwt-authenticator.ts';
const ORIGIN = 'https://gw.test';
const { publicKey, privateKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'k', alg: 'ES256' };
const ch = createLocalInvalidationChannel();
const principals = { async getPrincipal(s: string) { return { subject: s, kind: 'user' as const, roles: ['r'], disabled: false }; } };
const mk = (max: number) => createAuthn({ config: authnSchema.parse({ tokenCache: { maxEntries: max } }), publicOrigin: ORIGIN, principals, ownJwks: () => ({ keys: [jwk] }),
  revokedTokens: new MemoryRevokedTokenStore(), sessionStore: new MemorySessionStore(), loginStore: new MemoryLoginStateStore(), onInvalidate: ch.onInvalidate, publish: ch.publish });
const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({ iss: ORIGIN, aud: ORIGIN, sub: 'alice', exp: now + 3600, jti: 'j' }).setProtectedHeader({ alg: 'ES256', kid: 'k', typ: 'at+jwt' }).sign(privateKey);
const rule = { route: undefined, fallback: ['api', ORIGIN] };
for (const [name, max] of [['no cache (full ES256 verify)', 0], ['cache hit', 1000]] as const) {
  const a = mk(max);
  const key = JwtAuthenticator.cacheKey(token);
  await a.jwt.authenticate(token, key, rule);
  const N = max === 0 ? 5000 : 500000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const k = JwtAuthenticator.cacheKey(token);
    const hit = a.jwt.cached(k, rule);
    if (hit === undefined) await a.jwt.authenticate(token, k, rule);
  }
  const ns = Number(process.hrtime.bigint() - t0) / N;
  console.log(`${name}: ${(ns / 1000).toFixed(2)} µs/op, ${(1e9 / ns).toFixed(0)} ops/s (one core)`);
  a.close();
}
