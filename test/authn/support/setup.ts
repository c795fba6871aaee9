/**
 * One authentication setup shared by the JWT tests: three external issuers (JWKS over HTTPS,
 * x5t#S256 trust store, x5c chain to a CA) plus Gatehouse's own issuer backed by the
 * directory, all wired through the real `createAuthn`, behind a real HTTP server.
 */
import type { KeyObject } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload, type JWTHeaderParameters, type JWK } from 'jose';
import { authnSchema } from '../../../src/core/config/authn-schema.ts';
import { createAuthn, type Authn } from '../../../src/authn/create-authn.ts';
import { createLocalInvalidationChannel } from '../../../src/authn/local-invalidation.ts';
import { MemoryRevokedTokenStore } from '../../../src/authn/memory-stores.ts';
import { MemoryLoginStateStore, MemorySessionStore } from '../../../src/authn/session/memory-session-store.ts';
import type { ReplayCache } from '../../../src/authn/dpop/replay-cache.ts';
import { TestDirectory } from './directory.ts';
import { compiledRoute, startHarness, type Harness } from './harness.ts';
import { TestPki, type CertAndKey } from './pki.ts';
import { startJwksServer, type JwksServer } from './servers.ts';

export const ORIGIN = 'https://gw.test';
export const JWKS_ISSUER = 'https://idp.example';
export const X5T_ISSUER = 'https://x5t.example';
export const X5C_ISSUER = 'https://x5c.example';

export interface KeyPair { publicKey: CryptoKey; privateKey: CryptoKey; jwk: JWK; kid: string; alg: string }

async function keyPair(alg: string, kid: string): Promise<KeyPair> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { publicKey, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }, kid, alg };
}

export interface Setup {
  pki: TestPki;
  jwks: JwksServer;
  rsa: KeyPair;
  ec: KeyPair;
  own: KeyPair;
  trusted: CertAndKey;
  ca: CertAndKey;
  chainLeaf: CertAndKey;
  /** CA of the harness's (and the JWKS server's) TLS certificate. */
  tlsCa: CertAndKey;
  directory: TestDirectory;
  authn: Authn;
  harness: Harness;
  publish: ReturnType<typeof createLocalInvalidationChannel>['publish'];
  close(): Promise<void>;
}

/** Signs `claims` with sensible defaults (iss, aud, sub, iat, exp in 5 min). */
export async function sign(key: CryptoKey | KeyObject | Uint8Array, header: JWTHeaderParameters, claims: JWTPayload = {}, options?: Parameters<SignJWT['sign']>[1]): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: JWKS_ISSUER, aud: 'api', sub: 'alice', iat: now, exp: now + 300, ...claims })
    .setProtectedHeader(header)
    // jose accepts node KeyObjects at runtime; its types list only CryptoKey.
    .sign(key as CryptoKey | Uint8Array, options);
}

export interface SetupOptions {
  /** Serve the harness over HTTPS asking for (any) client certificate. */
  tls?: boolean;
  /** Shared DPoP replay cache (default: a fresh in-memory one). */
  dpopReplay?: ReplayCache;
  /** `authn.dpop.allowedOrigins` (origins besides ORIGIN). */
  dpopOrigins?: string[];
  /** `authn.tokenCache.principalTtlMs`. */
  principalTtlMs?: number;
  /** `roleMapping` of the x5t#S256 issuer (X5T_ISSUER). */
  x5tRoleMapping?: Record<string, string[]>;
}

export async function createSetup(options: SetupOptions = {}): Promise<Setup> {
  const pki = new TestPki();
  const tlsCa = pki.ca('jwks tls ca');
  const tls = pki.leaf('127.0.0.1', tlsCa, 'IP:127.0.0.1');
  const rsa = await keyPair('RS256', 'rsa-1');
  const ec = await keyPair('ES256', 'ec-1');
  const own = await keyPair('ES256', 'own-1');
  const jwks = await startJwksServer(tls, { keys: [rsa.jwk, ec.jwk] });
  const trusted = pki.selfSigned('x5t signer');
  const ca = pki.ca('token ca');
  const chainLeaf = pki.leaf('x5c signer', ca);

  const channel = createLocalInvalidationChannel();
  const directory = new TestDirectory(channel.publish);
  directory.add({ subject: 'alice', roles: ['reader'] });
  directory.add({ subject: 'mallory', roles: ['reader'] });

  const config = authnSchema.parse({
    issuers: [
      { issuer: JWKS_ISSUER, algorithms: ['RS256', 'ES256'], clockSkewSec: 5, keys: { type: 'jwks', url: jwks.url, caFile: tlsCa.certFile, cooldownMs: 60_000 } },
      { issuer: X5T_ISSUER, algorithms: ['ES256'], clockSkewSec: 5, keys: { type: 'x5t#S256', certificateFiles: [trusted.certFile] }, ...(options.x5tRoleMapping ? { roleMapping: options.x5tRoleMapping } : {}) },
      { issuer: X5C_ISSUER, algorithms: ['ES256'], clockSkewSec: 5, keys: { type: 'x5c', caFiles: [ca.certFile] } },
    ],
    gatehouseIssuer: { clockSkewSec: 5 },
    ...(options.dpopOrigins ? { dpop: { allowedOrigins: options.dpopOrigins } } : {}),
    ...(options.principalTtlMs !== undefined ? { tokenCache: { principalTtlMs: options.principalTtlMs } } : {}),
  });
  const authn = createAuthn({
    config,
    publicOrigin: ORIGIN,
    principals: directory,
    apiTokens: directory,
    ownJwks: () => ({ keys: [own.jwk] }),
    revokedTokens: new MemoryRevokedTokenStore(),
    sessionStore: new MemorySessionStore(),
    loginStore: new MemoryLoginStateStore(),
    onInvalidate: channel.onInvalidate,
    publish: channel.publish,
    dpopReplay: options.dpopReplay,
  });
  await authn.start();
  const harness = await startHarness({
    stage: authn.stage,
    routes: [
      compiledRoute({ id: 'api', access: 'authenticated' }),
      compiledRoute({ id: 'jwt-only', access: 'authenticated', authentication: { methods: ['jwt'] } }),
      compiledRoute({ id: 'other', access: 'authenticated', authentication: { audiences: ['other-service'] } }),
      compiledRoute({ id: 'open', access: 'public' }),
    ],
    ...(options.tls ? { tls } : {}),
  });
  return {
    pki, jwks, rsa, ec, own, trusted, ca, chainLeaf, tlsCa, directory, authn, harness, publish: channel.publish,
    async close() { await harness.close(); await jwks.close(); authn.close(); pki.cleanup(); },
  };
}
