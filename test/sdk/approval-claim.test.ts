/**
 * The `approval` claim in the SDK: only a request-bound assertion may carry it (a cached one
 * is valid for any request for a minute, so its approval could be replayed on another), its
 * shape is checked, and requireApproval refuses an identity without one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SignJWT, importJWK, type JSONWebKeySet } from 'jose';
import { createAssertionSigner, type AssertionSigner } from '../../src/gateway/assertion/signer.ts';
import type { StoredSigningKey } from '../../src/gateway/assertion/key-ring.ts';
import type { Identity } from '../../src/gateway/context.ts';
import { createAssertionVerifier, IDENTITY_ASSERTION_TYP, requireApproval, type AssertionVerifier } from '../../src/sdk/index.ts';

const ISSUER = 'https://gateway.test';
const alice: Identity = {
  subject: 'alice', kind: 'user', roles: ['ops'], method: 'session', amr: ['pwd'], authTime: undefined, mfaTime: undefined,
  credentialId: 'sess-1', issuer: ISSUER, attributes: {},
};
const APPROVAL = { id: 'apv_AAAAAAAAAAAAAAAAAAAAAA', approver: 'bob' };

describe('identity assertion: the approval claim', () => {
  let signer: AssertionSigner;
  let keys: { current: StoredSigningKey; next: StoredSigningKey };
  let verifier: AssertionVerifier;

  before(async () => {
    signer = await createAssertionSigner({ issuer: ISSUER, onKeysChanged: (k) => { keys = k; } });
    verifier = createAssertionVerifier({ jwks: JSON.parse(signer.jwksJson()) as JSONWebKeySet, issuer: ISSUER, audience: 'app' });
  });
  after(() => signer.close());

  /** Signed with the gateway's own key: what a bug in the gateway, or a key holder, could produce. */
  async function signWith(claims: Record<string, unknown>): Promise<string> {
    const key = await importJWK(keys.current.privateJwk, 'ES256');
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ sub: 'alice', kind: 'user', roles: ['ops'], amr: ['pwd'], auth_method: 'session', ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: IDENTITY_ASSERTION_TYP, kid: keys.current.kid })
      .setIssuer(ISSUER).setAudience('app').setIssuedAt(now).setExpirationTime(now + 60).setJti(randomUUID())
      .sign(key);
  }

  it('a bound assertion with an approval verifies, and requireApproval returns it', async () => {
    const requestId = randomUUID();
    const token = await signer.signBound(alice, 'app', { requestId, method: 'DELETE', path: '/x', approval: APPROVAL });
    const identity = await verifier.verify(token, { method: 'DELETE', url: '/x?y=1', requestId });
    assert.deepEqual(identity.approval, APPROVAL);
    assert.deepEqual(requireApproval(identity), APPROVAL);
  });

  it('requireApproval refuses an identity without an approval (403 ERR_SDK_APPROVAL_REQUIRED) and a missing identity (401)', async () => {
    const requestId = randomUUID();
    const bound = await verifier.verify(await signer.signBound(alice, 'app', { requestId, method: 'DELETE', path: '/x' }), { method: 'DELETE', url: '/x', requestId });
    const cached = await verifier.verify(await signer.sign(alice, 'app'), { method: 'DELETE', url: '/x' });
    for (const identity of [bound, cached]) {
      assert.equal(identity.approval, undefined);
      assert.throws(() => requireApproval(identity), (e: { code?: string; status?: number }) => e.code === 'ERR_SDK_APPROVAL_REQUIRED' && e.status === 403);
    }
    assert.throws(() => requireApproval(undefined), { code: 'ERR_SDK_ASSERTION_MISSING' });
  });

  it('rejects an approval claim on an assertion not bound to a request with ERR_SDK_ASSERTION_BINDING', async () => {
    const token = await signWith({ approval: APPROVAL });
    await assert.rejects(verifier.verify(token, { method: 'DELETE', url: '/x', requestId: randomUUID() }), { code: 'ERR_SDK_ASSERTION_BINDING' });
  });

  it('rejects a bound assertion whose approval claim has the wrong shape with ERR_SDK_ASSERTION_INVALID', async () => {
    for (const approval of ['apv_x; approver=bob', { id: APPROVAL.id }, { id: '', approver: 'bob' }, { id: 1, approver: 'bob' }, [APPROVAL.id, 'bob'], null]) {
      const requestId = randomUUID();
      const token = await signWith({ rid: requestId, htm: 'DELETE', htu: '/x', approval });
      await assert.rejects(verifier.verify(token, { method: 'DELETE', url: '/x', requestId }), { code: 'ERR_SDK_ASSERTION_INVALID' }, JSON.stringify(approval));
    }
  });

  it('a bound assertion with an approval moved to another request is refused with ERR_SDK_ASSERTION_BINDING', async () => {
    const requestId = randomUUID();
    const token = await signer.signBound(alice, 'app', { requestId, method: 'DELETE', path: '/x', approval: APPROVAL });
    await assert.rejects(verifier.verify(token, { method: 'DELETE', url: '/y', requestId }), { code: 'ERR_SDK_ASSERTION_BINDING' });
    await assert.rejects(verifier.verify(token, { method: 'DELETE', url: '/x', requestId: randomUUID() }), { code: 'ERR_SDK_ASSERTION_BINDING' });
  });
});
