/**
 * A browser sent to the login page by the gateway (302, ERR_AUTHN_LOGIN_REDIRECT: no session, or
 * a forged or expired session cookie) was recorded with outcome `error`, so `audit query
 * --outcome denied` and every reading of denials missed unauthenticated browser requests.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { outcomeOf } from '../../src/audit/map-event.ts';

describe('access outcome of the login redirect', () => {
  it('a request refused with a login redirect (forged or missing session cookie) is recorded as denied, not as an error', () => {
    assert.equal(outcomeOf('gateway.request', { status: 302, errorCode: 'ERR_AUTHN_LOGIN_REDIRECT' }), 'denied');
  });

  it('an upstream redirect stays a success and an upstream cut off mid-body an error (coverage)', () => {
    assert.equal(outcomeOf('gateway.request', { status: 302 }), 'success');
    assert.equal(outcomeOf('gateway.request', { status: 200, errorCode: 'ERR_GATEWAY_UPSTREAM_RESET' }), 'error');
    assert.equal(outcomeOf('gateway.request', { status: 401 }), 'denied');
  });
});
