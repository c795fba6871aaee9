import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalAddress, MAX_FORWARDED_HOPS, parseForwardedAddress, resolveClientAddress, resolveProtocol } from '../../src/gateway/http/client-address.ts';
import { compileTrustedProxies } from '../../src/gateway/http/trusted-proxies.ts';

const isTrusted = compileTrustedProxies(['10.0.0.0/8', 'fd00::/8']);

describe('resolveClientAddress', () => {
  test('ignores X-Forwarded-For from an untrusted peer: the client is the peer', () => {
    const r = resolveClientAddress('203.0.113.9', '127.0.0.1, 10.0.0.1', isTrusted);
    assert.deepEqual(r, { address: '203.0.113.9', peerTrusted: false, chain: ['203.0.113.9'] });
  });

  test('a trusted peer without X-Forwarded-For is the client', () => {
    assert.deepEqual(resolveClientAddress('10.0.0.5', undefined, isTrusted), { address: '10.0.0.5', peerTrusted: true, chain: ['10.0.0.5'] });
  });

  test('walks X-Forwarded-For from the right and stops at the first untrusted address', () => {
    const r = resolveClientAddress('10.0.0.5', '1.1.1.1, 198.51.100.4, 10.0.0.9', isTrusted);
    assert.equal(r.address, '198.51.100.4');
    assert.deepEqual(r.chain, ['198.51.100.4', '10.0.0.9', '10.0.0.5']);
  });

  test('a spoofed leftmost X-Forwarded-For entry behind a trusted proxy is not believed', () => {
    // The attacker sent "X-Forwarded-For: 10.0.0.1"; the trusted proxy appended the real address.
    const r = resolveClientAddress('10.0.0.5', '10.0.0.1, 203.0.113.66', isTrusted);
    assert.equal(r.address, '203.0.113.66');
    assert.deepEqual(r.chain, ['203.0.113.66', '10.0.0.5']);
  });

  test('repeated X-Forwarded-For fields are read as one list, in order', () => {
    const r = resolveClientAddress('10.0.0.5', ['203.0.113.1', '10.0.0.7'], isTrusted);
    assert.equal(r.address, '203.0.113.1');
    assert.deepEqual(r.chain, ['203.0.113.1', '10.0.0.7', '10.0.0.5']);
  });

  test('when every hop is trusted the leftmost is the client', () => {
    assert.equal(resolveClientAddress('10.0.0.5', '10.1.1.1, 10.2.2.2', isTrusted).address, '10.1.1.1');
  });

  test('a garbage entry stops the walk at the last trusted hop (fail closed)', () => {
    const r = resolveClientAddress('10.0.0.5', '203.0.113.1, unknown<script>, 10.0.0.9', isTrusted);
    assert.equal(r.address, '10.0.0.9');
    assert.deepEqual(r.chain, ['10.0.0.9', '10.0.0.5']);
    assert.equal(resolveClientAddress('10.0.0.5', '', isTrusted).address, '10.0.0.5');
  });

  test('an over-long chain of trusted hops stops after MAX_FORWARDED_HOPS entries', () => {
    const hops = Array.from({ length: MAX_FORWARDED_HOPS + 10 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
    const r = resolveClientAddress('10.0.0.5', ['203.0.113.1', ...hops].join(','), isTrusted);
    assert.equal(r.address, hops[hops.length - MAX_FORWARDED_HOPS]);
    assert.equal(r.chain.length, MAX_FORWARDED_HOPS + 1);
  });

  test('ports, brackets and IPv4-mapped forms are normalized', () => {
    const r = resolveClientAddress('::ffff:10.0.0.5', '[2001:DB8::7]:443, 10.0.0.9:8080', isTrusted);
    assert.equal(r.address, '2001:db8::7');
    assert.deepEqual(r.chain, ['2001:db8::7', '10.0.0.9', '10.0.0.5']);
    assert.equal(resolveClientAddress('::ffff:203.0.113.5', '1.2.3.4', isTrusted).address, '203.0.113.5');
  });

  test('an IPv6 trusted peer works like an IPv4 one', () => {
    assert.equal(resolveClientAddress('fd00::1', '2001:db8::99', isTrusted).address, '2001:db8::99');
  });
});

describe('address helpers', () => {
  test('canonicalAddress', () => {
    assert.equal(canonicalAddress('::FFFF:1.2.3.4'), '1.2.3.4');
    assert.equal(canonicalAddress('2001:DB8::1'), '2001:db8::1');
    assert.equal(canonicalAddress('1.2.3.4'), '1.2.3.4');
  });
  test('parseForwardedAddress writes every spelling of one address the same way: an address block or a per-address count cannot be dodged by a proxy spelling it differently, and mapped IPv4 in any form is IPv4 (not one shared ::/64 bucket)', () => {
    for (const v of ['0:0:0:0:0:ffff:1.2.3.4', '::ffff:102:304', '::FFFF:0102:0304', '[0:0:0:0:0:FFFF:1.2.3.4]:443', '1.2.3.4']) assert.equal(parseForwardedAddress(v), '1.2.3.4', v);
    for (const v of ['2001:DB8:0:0:0:0:0:1', '2001:db8::0:1', '[2001:0db8::1]', '2001:db8::1']) assert.equal(parseForwardedAddress(v), '2001:db8::1', v);
    const isTrusted = compileTrustedProxies(['10.0.0.0/8']);
    assert.equal(resolveClientAddress('10.0.0.1', '0:0:0:0:0:ffff:203.0.113.7', isTrusted).address, '203.0.113.7');
  });
  test('parseForwardedAddress refuses anything that is not an address', () => {
    for (const v of ['fe80::1%eth0', '[fe80::1%25eth0]', '', 'unknown', '_hidden', '1.2.3.4.5', '[::1', 'example.com', '1.2.3.4:80:90']) assert.equal(parseForwardedAddress(v), undefined, v);
  });
  test('resolveProtocol believes X-Forwarded-Proto only from a trusted peer and only http/https', () => {
    assert.equal(resolveProtocol('http', 'https', true), 'https');
    assert.equal(resolveProtocol('http', 'https', false), 'http');
    assert.equal(resolveProtocol('http', 'javascript', true), 'http');
    assert.equal(resolveProtocol('https', 'http, https', true), 'https');
    assert.equal(resolveProtocol('https', ['http', 'http'], true), 'https');
  });
});
