import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { compileTrustedProxies, TrustedProxiesError, validateTrustedProxies } from '../../src/gateway/http/trusted-proxies.ts';

describe('compileTrustedProxies', () => {
  const isTrusted = compileTrustedProxies(['10.0.0.0/8', '192.168.1.7', 'fd00::/8', '2001:db8::1']);

  test('matches IPv4 ranges and single addresses', () => {
    assert.equal(isTrusted('10.1.2.3'), true);
    assert.equal(isTrusted('10.255.255.255'), true);
    assert.equal(isTrusted('11.0.0.1'), false);
    assert.equal(isTrusted('192.168.1.7'), true);
    assert.equal(isTrusted('192.168.1.8'), false);
  });

  test('matches IPv6 ranges and single addresses', () => {
    assert.equal(isTrusted('fd12:3456::1'), true);
    assert.equal(isTrusted('fe80::1'), false);
    assert.equal(isTrusted('2001:db8::1'), true);
    assert.equal(isTrusted('2001:db8::2'), false);
  });

  test('an IPv4-mapped IPv6 peer (dual-stack listener) matches the IPv4 range', () => {
    assert.equal(isTrusted('::ffff:10.1.2.3'), true);
    assert.equal(isTrusted('::ffff:11.1.2.3'), false);
  });

  test('repeated lookups give the same answer (the cache does not flip results)', () => {
    for (let i = 0; i < 3; i++) {
      assert.equal(isTrusted('10.9.9.9'), true);
      assert.equal(isTrusted('8.8.8.8'), false);
    }
  });

  test('garbage, empty and hostile strings are untrusted, never an exception', () => {
    for (const value of ['', 'garbage', '10.0.0.1, 8.8.8.8', '10.0.0.1\r\n', '__proto__', 'constructor', '10.0.0.1/8', '::ffff:zz']) {
      assert.equal(isTrusted(value), false, JSON.stringify(value));
    }
  });

  test('an empty list trusts nobody, loopback included', () => {
    const none = compileTrustedProxies([]);
    assert.equal(none('127.0.0.1'), false);
    assert.equal(none('::1'), false);
  });

  test('invalid CIDRs are refused with the index of each entry', () => {
    const problems = validateTrustedProxies(['10.0.0.0/8', '10.0.0.0/33', 'example.com', 'fd00::/129', '1.2.3.4/', '1.2.3.4/-1', 'fe80::1%eth0']);
    assert.deepEqual(problems.map((p) => p.path), [['trustedProxies', 1], ['trustedProxies', 2], ['trustedProxies', 3], ['trustedProxies', 4], ['trustedProxies', 5], ['trustedProxies', 6]]);
    assert.throws(() => compileTrustedProxies(['10.0.0.0/8', 'nonsense']), (err: unknown) => {
      assert.ok(err instanceof TrustedProxiesError);
      assert.equal(err.code, 'ERR_CONFIG_INVALID');
      assert.deepEqual(err.problems[0]!.path, ['trustedProxies', 1]);
      return true;
    });
  });

  test('a range with host bits (10.0.0.5/8, a typo that would trust every host of the /8 to name its clients) is refused, naming both readings', () => {
    const problems = validateTrustedProxies(['10.0.0.0/8', '10.0.0.5/8', 'fd00::1/8', '192.0.2.7/32']);
    assert.deepEqual(problems.map((p) => p.path), [['trustedProxies', 1], ['trustedProxies', 2]]);
    assert.match(problems[0]!.message, /"10\.0\.0\.5\/8" has bits set past its \/8: write 10\.0\.0\.0\/8, or the longer prefix meant \(10\.0\.0\.5\/32\?\)/);
    assert.match(problems[1]!.message, /write fd00::\/8/);
    assert.throws(() => compileTrustedProxies(['10.0.0.5/8']), TrustedProxiesError);
  });
});
