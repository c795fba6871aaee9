/**
 * RFC 9449 DPoP at the gateway: a token bound to a key (`cnf.jkt`) is accepted only with the
 * DPoP scheme and a fresh proof by that key for this request and this token — on every
 * request, from the verified-token cache or not. Real keys, real stage, real HTTP.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { MemoryReplayCache } from '../../src/authn/dpop/replay-cache.ts';
import { createAuthnDpopProofRepo } from '../../src/store/repos/authn-dpop-proofs-repo.ts';
import type { Store } from '../../src/store/types.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createTestDatabase, type TestDatabase } from './support/stores.ts';
import { normalizePath } from '../../src/gateway/router/normalize-path.ts';
import { call } from './support/harness.ts';
import { createSetup, sign, ORIGIN, type Setup } from './support/setup.ts';

interface ProofKey { privateKey: CryptoKey; jwk: JWK; jkt: string; alg: string }

async function proofKey(alg = 'ES256'): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256'), alg };
}

interface ProofOptions { htm?: string; htu?: string; iat?: number; jti?: string; ath?: string | undefined; typ?: string; jwk?: JWK | undefined; alg?: string; signWith?: CryptoKey | Uint8Array }

async function proof(key: ProofKey, token: string, o: ProofOptions = {}): Promise<string> {
  const claims: Record<string, unknown> = {
    htm: o.htm ?? 'GET', htu: o.htu ?? `${ORIGIN}/items`, iat: o.iat ?? Math.floor(Date.now() / 1000), jti: o.jti ?? randomUUID(),
  };
  const ath = 'ath' in o ? o.ath : hash('sha256', token, 'base64url');
  if (ath !== undefined) claims.ath = ath;
  const header: Record<string, unknown> = { alg: o.alg ?? key.alg, typ: o.typ ?? 'dpop+jwt' };
  const jwk = 'jwk' in o ? o.jwk : key.jwk;
  if (jwk !== undefined) header.jwk = jwk;
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(o.signWith ?? key.privateKey);
}

describe('DPoP-bound access tokens (RFC 9449)', () => {
  let s: Setup;
  let key: ProofKey;
  let thief: ProofKey;
  let token: string;

  before(async () => {
    s = await createSetup();
    key = await proofKey();
    thief = await proofKey();
    token = await sign(s.rsa.privateKey, { alg: 'RS256', kid: s.rsa.kid }, { jti: 'dpop-1', cnf: { jkt: key.jkt } });
  });
  after(async () => { await s.close(); });

  const url = (path = '/items') => s.harness.url + path;
  const dpop = (t: string, p: string | string[]) => ({ authorization: `DPoP ${t}`, dpop: p });

  async function expectCode(headers: Record<string, string | string[]>, code: string, init: { path?: string; method?: string } = {}): Promise<Headers> {
    const r = await call(url(init.path), { headers, ...(init.method ? { method: init.method } : {}) });
    assert.equal(r.body?.error?.code, code, `expected ${code}, got ${r.status} ${JSON.stringify(r.body)}`);
    assert.equal(r.status, 401);
    return r.headers;
  }

  it('accepts a DPoP-bound token with a fresh proof, and checks a new proof again when the token comes from the cache', async () => {
    const first = await call(url(), { headers: dpop(token, await proof(key, token)) });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.method, 'dpop');
    assert.equal(first.body.attributes.tokenBinding, 'dpop');
    const second = await call(url(), { headers: dpop(token, await proof(key, token)) });
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('x-stage-sync'), '0', 'a cached DPoP token still has its proof verified');
  });

  it('refuses a DPoP-bound token sent as a plain bearer token, verified before or not', async () => {
    const fresh = await sign(s.rsa.privateKey, { alg: 'RS256', kid: s.rsa.kid }, { jti: 'dpop-2', cnf: { jkt: key.jkt } });
    await expectCode({ authorization: `Bearer ${fresh}` }, 'ERR_AUTHN_DPOP_REQUIRED');
    // `token` is in the verified-token cache by now.
    const headers = await expectCode({ authorization: `Bearer ${token}` }, 'ERR_AUTHN_DPOP_REQUIRED');
    assert.match(headers.get('www-authenticate') ?? '', /^DPoP algs="[^"]*ES256[^"]*", error="invalid_dpop_proof"$/);
    await expectCode({ authorization: `Bearer ${token}`, dpop: await proof(key, token) }, 'ERR_AUTHN_DPOP_REQUIRED');
  });

  it('refuses the DPoP scheme without a proof', async () => {
    await expectCode({ authorization: `DPoP ${token}` }, 'ERR_AUTHN_DPOP_REQUIRED');
  });

  it('refuses a replayed DPoP proof', async () => {
    const p = await proof(key, token);
    assert.equal((await call(url(), { headers: dpop(token, p) })).status, 200);
    await expectCode(dpop(token, p), 'ERR_AUTHN_DPOP_REPLAYED');
  });

  it('refuses a DPoP proof made for another URL, another origin or another method', async () => {
    await expectCode(dpop(token, await proof(key, token, { htu: `${ORIGIN}/admin` })), 'ERR_AUTHN_DPOP_TARGET_MISMATCH');
    await expectCode(dpop(token, await proof(key, token, { htu: 'https://evil.example/items' })), 'ERR_AUTHN_DPOP_TARGET_MISMATCH');
    await expectCode(dpop(token, await proof(key, token, { htu: `${ORIGIN.replace('https:', 'http:')}/items` })), 'ERR_AUTHN_DPOP_TARGET_MISMATCH');
    await expectCode(dpop(token, await proof(key, token, { htm: 'GET' })), 'ERR_AUTHN_DPOP_TARGET_MISMATCH', { method: 'DELETE' });
    await expectCode(dpop(token, await proof(key, token, { htu: 'not a url' })), 'ERR_AUTHN_DPOP_INVALID');
  });

  it('compares htu without query and fragment, after URL normalization', async () => {
    assert.equal((await call(url('/items?page=2'), { headers: dpop(token, await proof(key, token)) })).status, 200);
    assert.equal((await call(url('/items'), { headers: dpop(token, await proof(key, token, { htu: `${ORIGIN}/items?x=1#f` })) })).status, 200);
    assert.equal((await call(url('/a/../items'), { headers: dpop(token, await proof(key, token)) })).status, 200);
  });

  it('refuses a proof for /items on the request target //x/items, which the gateway routes and forwards as /x/items', async () => {
    assert.equal(normalizePath('//x/items').path, '/x/items', 'the path the gateway routes and forwards');
    await expectCode(dpop(token, await proof(key, token, { htm: 'DELETE' })), 'ERR_AUTHN_DPOP_TARGET_MISMATCH', { path: '//x/items', method: 'DELETE' });
    // The proof for the path the gateway actually serves is accepted, however the target spells it.
    assert.equal((await call(url('//x/items'), { headers: dpop(token, await proof(key, token, { htu: `${ORIGIN}/x/items` })) })).status, 200);
    assert.equal((await call(url('/x//items'), { headers: dpop(token, await proof(key, token, { htu: `${ORIGIN}/x/items` })) })).status, 200);
    assert.equal((await call(url('/x/it%65ms'), { headers: dpop(token, await proof(key, token, { htu: `${ORIGIN}/x/items` })) })).status, 200);
  });

  it('refuses a proof signed by a key other than the one the token is bound to (a stolen token)', async () => {
    await expectCode(dpop(token, await proof(thief, token)), 'ERR_AUTHN_DPOP_KEY_MISMATCH');
  });

  it('refuses a proof made for another access token, or without the token hash', async () => {
    const other = await sign(s.rsa.privateKey, { alg: 'RS256', kid: s.rsa.kid }, { jti: 'dpop-3', cnf: { jkt: key.jkt } });
    await expectCode(dpop(token, await proof(key, other)), 'ERR_AUTHN_DPOP_TOKEN_HASH');
    await expectCode(dpop(token, await proof(key, token, { ath: undefined })), 'ERR_AUTHN_DPOP_INVALID');
  });

  it('refuses a proof that is too old or from the future', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectCode(dpop(token, await proof(key, token, { iat: now - 600 })), 'ERR_AUTHN_DPOP_STALE');
    await expectCode(dpop(token, await proof(key, token, { iat: now + 600 })), 'ERR_AUTHN_DPOP_STALE');
  });

  it('refuses malformed proofs: wrong typ, HS256, no embedded key, an embedded private key, two DPoP headers, garbage', async () => {
    await expectCode(dpop(token, await proof(key, token, { typ: 'JWT' })), 'ERR_AUTHN_DPOP_INVALID');
    await expectCode(dpop(token, await proof(key, token, { alg: 'HS256', signWith: new TextEncoder().encode('k'.repeat(32)) })), 'ERR_AUTHN_DPOP_INVALID');
    await expectCode(dpop(token, await proof(key, token, { jwk: undefined })), 'ERR_AUTHN_DPOP_INVALID');
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const privateJwk = await exportJWK(privateKey);
    await expectCode(dpop(token, await proof({ ...key, privateKey, jwk: privateJwk }, token)), 'ERR_AUTHN_DPOP_INVALID');
    await expectCode(dpop(token, [await proof(key, token), await proof(key, token)]), 'ERR_AUTHN_DPOP_INVALID');
    await expectCode(dpop(token, 'e30.e30.'), 'ERR_AUTHN_DPOP_INVALID');
    await expectCode(dpop(token, 'x'.repeat(9000)), 'ERR_AUTHN_DPOP_INVALID');
  });

  it('refuses a proof by an algorithm not on the allow-list (RSA PKCS#1 v1.5 with SHA-512)', async () => {
    const rsa = await proofKey('RS512');
    const bound = await sign(s.rsa.privateKey, { alg: 'RS256', kid: s.rsa.kid }, { jti: 'dpop-4', cnf: { jkt: rsa.jkt } });
    await expectCode(dpop(bound, await proof(rsa, bound)), 'ERR_AUTHN_DPOP_INVALID');
  });

  it('refuses a plain bearer token (and an API token) presented with the DPoP scheme', async () => {
    const plain = await sign(s.rsa.privateKey, { alg: 'RS256', kid: s.rsa.kid }, { jti: 'plain-1' });
    const headers = await expectCode(dpop(plain, await proof(key, plain)), 'ERR_AUTHN_DPOP_UNBOUND_TOKEN');
    assert.match(headers.get('www-authenticate') ?? '', /^DPoP algs="[^"]+", error="invalid_token"$/);
    await expectCode(dpop('ghs_abcdefghijklmnopqrstuvwxyz', await proof(key, 'x')), 'ERR_AUTHN_DPOP_UNBOUND_TOKEN');
  });

  it('refuses a token bound by a confirmation method it cannot check (cnf.jwk), rather than ignoring the binding', async () => {
    const unsupported = await sign(s.rsa.privateKey, { alg: 'RS256', kid: s.rsa.kid }, { jti: 'cnf-jwk', cnf: { jwk: key.jwk } });
    await expectCode({ authorization: `Bearer ${unsupported}` }, 'ERR_AUTHN_TOKEN_BINDING_UNSUPPORTED');
    const malformed = await sign(s.rsa.privateKey, { alg: 'RS256', kid: s.rsa.kid }, { jti: 'cnf-bad', cnf: { jkt: 'short' } });
    await expectCode({ authorization: `Bearer ${malformed}` }, 'ERR_AUTHN_TOKEN_BINDING_UNSUPPORTED');
  });

  it('accepts EdDSA proofs', async () => {
    const ed = await proofKey('EdDSA');
    const bound = await sign(s.rsa.privateKey, { alg: 'RS256', kid: s.rsa.kid }, { jti: 'dpop-ed', cnf: { jkt: ed.jkt } });
    assert.equal((await call(url(), { headers: dpop(bound, await proof(ed, bound)) })).status, 200);
  });
});

describe('DPoP proofs on a gateway serving several origins', () => {
  const OTHER = 'https://other.test';
  let s: Setup;
  let key: ProofKey;
  let token: string;
  before(async () => {
    s = await createSetup({ dpopOrigins: [OTHER] });
    key = await proofKey();
    token = await sign(s.rsa.privateKey, { alg: 'RS256', kid: s.rsa.kid }, { jti: 'dpop-hosts', cnf: { jkt: key.jkt } });
  });
  after(async () => { await s.close(); });

  const send = async (host: string, htu: string) => call(s.harness.url + '/items', { headers: { host, authorization: `DPoP ${token}`, dpop: await proof(key, token, { htu }) } });

  it('refuses a proof made for one of its origins on a request addressed to another (RFC 9449 §4.3: htu is this request\'s URI; each host has its own routes)', async () => {
    const r = await send('gw.test', `${OTHER}/items`);
    assert.equal(r.status, 401);
    assert.equal(r.body?.error?.code, 'ERR_AUTHN_DPOP_TARGET_MISMATCH');
    const back = await send('other.test', `${ORIGIN}/items`);
    assert.equal(back.body?.error?.code, 'ERR_AUTHN_DPOP_TARGET_MISMATCH');
  });

  it('accepts a proof naming the host the request was addressed to (letter case and port aside), and any allowed origin for a host outside the list (an address behind a load balancer)', async () => {
    assert.equal((await send('other.test', `${OTHER}/items`)).status, 200);
    assert.equal((await send('GW.test:443', `${ORIGIN}/items`)).status, 200);
    assert.equal((await send('10.0.0.5:8443', `${OTHER}/items`)).status, 200);
  });
});

describe('DPoP replay across gateway instances', () => {
  it('refuses on a second instance a proof already used on the first when they share the replay cache', async () => {
    const shared = new MemoryReplayCache();
    const a = await createSetup({ dpopReplay: shared });
    const b = await createSetup({ dpopReplay: shared });
    try {
      const key = await proofKey();
      // Each setup has its own JWKS keys: one token per instance, the same proof key and proof id.
      const tokenA = await sign(a.rsa.privateKey, { alg: 'RS256', kid: a.rsa.kid }, { cnf: { jkt: key.jkt } });
      const p = await proof(key, tokenA);
      assert.equal((await call(`${a.harness.url}/items`, { headers: { authorization: `DPoP ${tokenA}`, dpop: p } })).status, 200);
      const tokenB = await sign(b.rsa.privateKey, { alg: 'RS256', kid: b.rsa.kid }, { cnf: { jkt: key.jkt } });
      const jti = JSON.parse(Buffer.from(p.split('.')[1]!, 'base64url').toString()).jti as string;
      const replay = await proof(key, tokenB, { jti });
      const r = await call(`${b.harness.url}/items`, { headers: { authorization: `DPoP ${tokenB}`, dpop: replay } });
      assert.equal(r.body?.error?.code, 'ERR_AUTHN_DPOP_REPLAYED');
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('DPoP replay cache in PostgreSQL (authn.dpop.replayCache: store)', { skip: await serviceOrSkip('postgres') }, () => {
  let db: TestDatabase;
  let store: Store;
  let s: Setup;
  before(async () => {
    db = await createTestDatabase('postgres');
    store = await db.open();
    s = await createSetup({ dpopReplay: createAuthnDpopProofRepo(store.db) });
  });
  after(async () => {
    try {
      await s?.close();
      await store?.close();
    } finally {
      await db?.drop();
    }
  });

  it('accepts a proof whose iat has a fraction of a second (a NumericDate may), then refuses its replay; it was a 503 ERR_AUTHN_UNAVAILABLE (fractional milliseconds into a bigint column)', async () => {
    const key = await proofKey();
    const token = await sign(s.rsa.privateKey, { alg: 'RS256', kid: s.rsa.kid }, { jti: 'dpop-frac', cnf: { jkt: key.jkt } });
    const p = await proof(key, token, { iat: Math.floor(Date.now() / 1000) - 0.0004 });
    const headers = { authorization: `DPoP ${token}`, dpop: p };
    const first = await call(`${s.harness.url}/items`, { headers });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const replay = await call(`${s.harness.url}/items`, { headers });
    assert.equal(replay.body?.error?.code, 'ERR_AUTHN_DPOP_REPLAYED');
  });
});
