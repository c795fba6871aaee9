/**
 * An invalidation that arrives while a credential is being verified: the verification read
 * the principal (or the token) before the change, so what it found must not be cached, or
 * the credential outlives its revocation on this instance until the cache entry expires
 * (a JWT: its exp; an API token: apiTokenTtlMs; a session: the next activity write).
 * Real stage, real HTTP; the directory read is held open to place the invalidation inside it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SESSION_COOKIE } from '../../src/authn/session/cookies.ts';
import type { ApiTokenInfo, Principal } from '../../src/authn/types.ts';
import { call } from './support/harness.ts';
import { createSetup, sign, ORIGIN, type Setup } from './support/setup.ts';
import { TestDirectory } from './support/directory.ts';

interface Held { reached: Promise<void>; release(): void }

/** The next call of `method` for `key` reads the directory, then waits for `release` before answering what it read. */
function holdNext<K extends 'getPrincipal' | 'verifyApiToken'>(directory: TestDirectory, method: K, key: string): Held {
  let release!: () => void;
  let reached!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const reachedP = new Promise<void>((resolve) => { reached = resolve; });
  const original = TestDirectory.prototype[method] as (k: string) => Promise<Principal | ApiTokenInfo | undefined>;
  (directory as unknown as Record<K, (k: string) => Promise<unknown>>)[method] = async (k: string) => {
    if (k !== key) return original.call(directory, k);
    (directory as unknown as Record<K, unknown>)[method] = original;
    const stale = await original.call(directory, k);
    reached();
    await gate;
    return stale;
  };
  return { reached: reachedP, release };
}

describe('invalidations during verification', () => {
  let s: Setup;
  before(async () => { s = await createSetup(); });
  after(async () => { await s.close(); });

  it('refuses a JWT of a user disabled while its first verification was reading the directory, instead of serving the stale identity from the cache until exp', async () => {
    s.directory.add({ subject: 'trudy-jwt', roles: ['reader'] });
    const token = await sign(s.own.privateKey, { alg: 'ES256', kid: s.own.kid, typ: 'at+jwt' }, { iss: ORIGIN, aud: ORIGIN, sub: 'trudy-jwt' });
    const held = holdNext(s.directory, 'getPrincipal', 'trudy-jwt');
    const first = call(s.harness.url, { headers: { authorization: `Bearer ${token}` } });
    await held.reached;
    await s.directory.setDisabled('trudy-jwt', true);
    held.release();
    // The request in flight read the directory before the change: it is answered as it stood.
    assert.equal((await first).status, 200);
    const next = await call(s.harness.url, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(next.body?.error?.code, 'ERR_AUTHN_PRINCIPAL_DISABLED', JSON.stringify(next.body));
  });

  it('refuses an API token revoked while its first verification was in flight, instead of serving it from the cache for apiTokenTtlMs', async () => {
    s.directory.add({ subject: 'trudy-api', roles: ['reader'] });
    const { token, tokenId } = s.directory.issueApiToken('trudy-api');
    const held = holdNext(s.directory, 'verifyApiToken', token);
    const first = call(s.harness.url, { headers: { authorization: `Bearer ${token}` } });
    await held.reached;
    await s.directory.revokeApiToken(tokenId);
    held.release();
    assert.equal((await first).status, 200);
    const next = await call(s.harness.url, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(next.body?.error?.code, 'ERR_AUTHN_API_TOKEN_INVALID', JSON.stringify(next.body));
  });

  it('refuses the session of a user disabled while the session\'s first verification was reading the directory, instead of serving it from the cache until the next activity write', async () => {
    const principal = s.directory.add({ subject: 'trudy-session', roles: ['reader'] });
    const { cookieValue } = await s.authn.sessions.create(principal, { issuer: ORIGIN, amr: ['pwd'], authTime: Math.floor(Date.now() / 1000) });
    const cookie = { cookie: `${SESSION_COOKIE}=${cookieValue}` };
    const held = holdNext(s.directory, 'getPrincipal', 'trudy-session');
    const first = call(s.harness.url, { headers: cookie });
    await held.reached;
    await s.directory.setDisabled('trudy-session', true);
    held.release();
    assert.equal((await first).status, 200);
    const next = await call(s.harness.url, { headers: cookie });
    assert.equal(next.body?.error?.code, 'ERR_AUTHN_PRINCIPAL_DISABLED', JSON.stringify(next.body));
  });
});
