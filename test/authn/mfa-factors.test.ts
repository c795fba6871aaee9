/**
 * Which RFC 8176 `amr` values count as a second factor for step-up and `context.mfaAge`
 * (src/authn/mfa.ts). Before, any one method of a list (`otp`, `hwk`, `pop`, …) counted, so an
 * external issuer's token for a single-factor sign-in — a one-time code as the only factor, a
 * security key without a PIN — passed a route that demands a second factor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usedMfa } from '../../src/authn/mfa.ts';

test('a single-factor sign-in named by one method or by several of one category (otp alone, hwk + pop, swk + user, sms) is not a second factor: step-up refuses it', () => {
  for (const amr of [['otp'], ['hwk'], ['hwk', 'pop'], ['swk', 'user'], ['sms'], ['pwd'], ['pwd', 'kba'], ['fed'], ['face'], ['otp', 'rba', 'geo', 'mca'], []]) {
    assert.equal(usedMfa(amr), false, JSON.stringify(amr));
  }
});

test('two categories, or mfa itself, are a second factor (Gatehouse\'s own pwd + otp + mfa, a security key with a PIN or a fingerprint, a federated sign-in with TOTP)', () => {
  for (const amr of [['pwd', 'otp', 'mfa'], ['pwd', 'otp'], ['hwk', 'pin'], ['hwk', 'user', 'fpt'], ['fed', 'otp', 'mfa'], ['mfa'], ['pwd', 'sms'], ['face', 'otp']]) {
    assert.equal(usedMfa(amr), true, JSON.stringify(amr));
  }
});
