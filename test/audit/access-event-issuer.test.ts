/**
 * The access record says whose principal made a request: identities from the real
 * authentication stage, a local user "alice" and an external issuer's "alice"
 * (`principals: claims`), recorded through the access record's fast and generic paths.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { accessRecord } from '../../src/audit/access-event.ts';
import { canonicalDraftJson } from '../../src/audit/hash.ts';
import { createRedactor } from '../../src/audit/redact.ts';
import { storableDraft } from '../../src/audit/storable.ts';
import type { Identity, RequestContext } from '../../src/gateway/context.ts';
import { collidingIdentities, type CollidingIdentities } from '../authn/support/colliding-identities.ts';
import { createSetup, JWKS_ISSUER, ORIGIN, type Setup } from '../authn/support/setup.ts';

const redactor = createRedactor();

function ctx(identity: Identity): RequestContext {
  return {
    requestId: '019a1b2c-3d4e-7f00-8abc-0123456789ab', trace: undefined, method: 'GET', path: '/docs/x', clientAddress: '192.0.2.10',
    stage: 'authorize', bytesIn: 0, bytesOut: 0, route: { id: 'docs' }, identity, error: { code: 'ERR_POLICY_DENIED' }, upstreamStatus: 0, decisionId: undefined,
  } as unknown as RequestContext;
}

describe('access record of principals of several issuers', () => {
  let s: Setup;
  let ids: CollidingIdentities;
  before(async () => {
    s = await createSetup();
    ids = await collidingIdentities(s);
  });
  after(async () => { await s.close(); });

  it('subject collision from another issuer: the record\'s actor is <issuer>#alice and names the issuer, apart from the local user alice', () => {
    const foreign = accessRecord(ctx(ids.foreign), 403, 1, 'gw-1', redactor).draft;
    const local = accessRecord(ctx(ids.local), 403, 1, 'gw-1', redactor).draft;
    assert.equal(foreign.actor, `${JWKS_ISSUER}#alice`);
    assert.equal(local.actor, 'alice');
    assert.equal(JSON.parse(foreign.details).issuer, JWKS_ISSUER);
    assert.equal(JSON.parse(local.details).issuer, ORIGIN, 'a local user\'s token names its issuer too');
  });

  it('an issuer that needs escaping takes the generic path, and the fast path stays byte-identical to it', () => {
    const hostile = { ...ids.foreign, issuer: 'https://a"b\\c\u2028' };
    const bad = accessRecord(ctx(hostile), 403, 1, 'gw-1', redactor);
    assert.equal(bad.canonical, undefined);
    assert.equal(JSON.parse(bad.draft.details).issuer, hostile.issuer);
    const ok = accessRecord(ctx(ids.foreign), 403, 1, 'gw-1', redactor);
    assert.equal(ok.canonical, canonicalDraftJson(storableDraft(ok.draft)));
  });
});
