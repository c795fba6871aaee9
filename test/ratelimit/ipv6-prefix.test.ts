import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ipv6Prefix } from '../../src/ratelimit/ipv6-prefix.ts';
import { canonicalIp, clientNetwork } from '../../src/gateway/http/client-network.ts';

describe('IPv6 prefix of a client network', () => {
  it('is the canonical (RFC 5952) spelling of the masked network, so one prefix is one bucket however the client writes its address', () => {
    for (let n = 0; n < 2000; n++) {
      const groups = Array.from({ length: 8 }, () => (Math.random() < 0.4 ? 0 : Math.floor(Math.random() * 0x10000)));
      const length = 32 + Math.floor(Math.random() * 32);
      const prefix = ipv6Prefix(clientNetwork(groups.map((g) => g.toString(16)).join(':')), length);
      // External truth: Node's URL serializer, which writes RFC 5952.
      let bits = length;
      const masked = groups.map((g) => { const keep = Math.max(0, Math.min(16, bits)); bits -= 16; return keep === 0 ? 0 : g & (0xffff << (16 - keep)) & 0xffff; });
      assert.equal(prefix, `${canonicalIp(masked.map((g) => g.toString(16)).join(':'))}/${length}`, groups.join(':'));
    }
    assert.equal(ipv6Prefix(clientNetwork('2001:DB8:0001:0002:0:0:0:1'), 48), '2001:db8:1::/48');
    assert.equal(ipv6Prefix(clientNetwork('::1'), 48), '::/48');
  });

  it('is undefined for an IPv4 client, a NAT64 address and a zoned link-local address', () => {
    for (const address of ['203.0.113.7', '::ffff:203.0.113.7', '64:ff9b::c000:201', 'fe80::1%eth0']) {
      assert.equal(ipv6Prefix(clientNetwork(canonicalIp(address) ?? address), 48), undefined, address);
    }
  });
});
