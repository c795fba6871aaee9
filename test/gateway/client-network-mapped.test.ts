/**
 * A dual-stack socket reports IPv4 peers as `::ffff:a.b.c.d`. Counting those by their /64 put
 * every IPv4 client in `::/64`: one attacker's failed sign-ins or requests throttled or blocked
 * every IPv4 client of an identity provider embedded without the gateway's accept stage.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clientNetwork } from '../../src/gateway/http/client-network.ts';

describe('clientNetwork of IPv4-mapped addresses', () => {
  it('one IPv4 client seen as ::ffff:a.b.c.d cannot throttle or block all IPv4 clients: each is its own IPv4 address', () => {
    assert.equal(clientNetwork('::ffff:203.0.113.9'), '203.0.113.9');
    assert.equal(clientNetwork('::ffff:198.51.100.7'), '198.51.100.7');
    assert.equal(clientNetwork('::FFFF:cb00:7109'), '203.0.113.9', 'hex spelling of the same client');
    assert.equal(clientNetwork('0:0:0:0:0:ffff:203.0.113.9'), '203.0.113.9');
    assert.notEqual(clientNetwork('::ffff:203.0.113.9'), clientNetwork('::ffff:198.51.100.7'));
  });

  it('other IPv6 addresses keep their /64, NAT64 addresses stay whole', () => {
    assert.equal(clientNetwork('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(clientNetwork('::1'), '::/64');
    assert.equal(clientNetwork('64:ff9b::cb00:7109'), '64:ff9b::cb00:7109');
    assert.equal(clientNetwork('::ffff:0:cb00:7109'), '::/64', 'IPv4-translated (::ffff:0:0/96) is not IPv4-mapped');
  });

  it('IPv4 clients behind a translator with the local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215) are one client each: one abuser cannot get them all throttled or blocked', () => {
    assert.equal(clientNetwork('64:ff9b:1:a::cb00:7109'), '64:ff9b:1:a::cb00:7109');
    assert.notEqual(clientNetwork('64:ff9b:1:a::cb00:7109'), clientNetwork('64:ff9b:1:a::c633:6407'));
    assert.equal(clientNetwork('64:ff9b:2::1'), '64:ff9b:2::/64', 'outside 64:ff9b:1::/48 the /64 rule holds');
  });
});
