import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ipv6Prefix, prefixLimit } from '../../src/ratelimit/ipv6-prefix.ts';
import { checkLimit, MAX_WINDOW_MS, windowOf } from '../../src/ratelimit/gcra.ts';
import { ratelimitSchema } from '../../src/core/config/ratelimit-schema.ts';
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

  it('a limit the schema accepts at the ten-year maximum keeps a valid aggregate (rate × factor rounding down made every IPv6 request fail with 500)', () => {
    let checked = 0;
    for (let burst = 1; burst <= 300; burst++) for (const periodMs of [60_000, 780_000, 3_600_000, 86_400_000]) {
      const limit = { rate: burst * periodMs / MAX_WINDOW_MS, periodMs, burst };
      if (!ratelimitSchema.safeParse({ edge: limit }).success) continue;
      for (const factor of [2, 3, 10, 11, 999]) {
        const wide = prefixLimit(limit, factor);
        assert.doesNotThrow(() => checkLimit(wide, 1), `${JSON.stringify(limit)} × ${factor}`);
        assert.ok(windowOf(wide) <= windowOf(limit) && wide.rate >= limit.rate * factor * (1 - 1e-15) && wide.rate <= limit.rate * factor * (1 + 1e-14));
        checked++;
      }
    }
    assert.ok(checked > 1000, `${checked} limits checked`);
  });
});
