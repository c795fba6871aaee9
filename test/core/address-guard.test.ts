/**
 * The address guard of connections whose destination someone outside Gatehouse chose
 * (src/core/http/address-guard.ts): which addresses count as public, and that the connector
 * judges every address a name resolves to, connects only to one that passed, and still checks
 * the certificate against the name.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fetch as undiciFetch, type Agent } from 'undici';
import { addressGuardedAgent, type ResolvedAddress } from '../../src/core/http/address-guard.ts';
import { isPublicAddress } from '../../src/core/net/public-address.ts';
import { selfSignedCert } from '../identity/support/harness.ts';

describe('isPublicAddress', () => {
  const notPublic = [
    '127.0.0.1', '127.255.0.9', '0.0.0.0', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254',
    '100.64.0.1', '192.0.0.170', '192.0.2.1', '198.18.0.1', '198.51.100.7', '203.0.113.9', '224.0.0.1', '239.255.255.250', '255.255.255.255', '240.0.0.1',
    '::', '::1', 'fe80::1', 'fc00::1', 'fd00:ec2::254', 'fec0::1', 'ff02::1', '2001:db8::1', '2001::1', '2002:7f00:1::', '100::1', '64:ff9b:1::1',
    // the dummy prefix (100:0:0:1::/64, RFC 9780), next to the discard-only 100::/64 and not in it
    '100:0:0:1::1', '100::1:0:0:1',
    // IPv4 inside IPv6: mapped and NAT64 forms of loopback, private and metadata addresses
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '64:ff9b::10.0.0.1', '64:ff9b::a9fe:a9fe', '::127.0.0.1',
    // not addresses at all
    'localhost', '', 'fe80::1%eth0', '1.2.3',
  ];
  const publicOnes = ['1.1.1.1', '8.8.8.8', '172.32.0.1', '172.15.255.255', '100.128.0.1', '192.169.0.1', '2606:4700:4700::1111', '2a00:1450:4001::200e', '::ffff:8.8.8.8', '64:ff9b::808:808'];

  for (const address of notPublic) {
    it(`${JSON.stringify(address)} is not public`, () => assert.equal(isPublicAddress(address), false));
  }
  for (const address of publicOnes) {
    it(`${address} is public`, () => assert.equal(isPublicAddress(address), true));
  }
});

describe('addressGuardedAgent', () => {
  let server: Server;
  let port = 0;
  let connections = 0;
  const agents: Agent[] = [];
  const { key, cert } = selfSignedCert(); // names localhost and 127.0.0.1

  before(async () => {
    server = createServer({ key, cert }, (_req, res) => { res.end('inside'); });
    server.on('connection', () => { connections += 1; });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.destroy()));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function get(url: string, allowedNetworks: string[], resolve?: (host: string) => Promise<ResolvedAddress[]>) {
    const agent = addressGuardedAgent({ allowedNetworks, allowListPath: 'test.privateNetworks', tls: { ca: cert }, ...(resolve ? { resolve } : {}) });
    agents.push(agent);
    return undiciFetch(url, { dispatcher: agent });
  }

  /** The cause of a failed fetch (undici wraps connection errors in "fetch failed"). */
  async function failure(response: Promise<unknown>): Promise<Error> {
    const error = await response.then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof Error, 'the request should have failed');
    return (error.cause ?? error) as Error;
  }

  it('SSRF to a loopback address literal is refused before connecting, naming the allow list to change', async () => {
    connections = 0;
    const cause = await failure(get(`https://127.0.0.1:${port}/`, []));
    assert.match(cause.message, /127\.0\.0\.1.*not a public address.*test\.privateNetworks/);
    assert.equal(connections, 0);
  });

  for (const spelling of ['0x7f.0.0.1', '2130706433', '0177.0.0.1', '127.1', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[0:0:0:0:0:ffff:7f00:1]', '[::1]', '[64:ff9b::7f00:1]']) {
    it(`SSRF to loopback spelled ${spelling} is refused before connecting`, async () => {
      connections = 0;
      const cause = await failure(get(`https://${spelling}:${port}/`, []));
      assert.match(cause.message, /not a public address/);
      assert.equal(connections, 0);
    });
  }

  it('SSRF through a name that resolves only to private addresses (metadata, loopback) is refused before connecting', async () => {
    connections = 0;
    const cause = await failure(get(`https://metadata.test:${port}/`, [], async () => [{ address: '169.254.169.254', family: 4 }, { address: '127.0.0.1', family: 4 }]));
    assert.match(cause.message, /metadata\.test \(169\.254\.169\.254, 127\.0\.0\.1\)/);
    assert.equal(connections, 0);
  });

  it('a name resolving to an unlisted and a listed private address connects to the listed one only', async () => {
    connections = 0;
    const tried: string[] = [];
    const response = await get(`https://localhost:${port}/`, ['127.0.0.1/32'], async (host) => { tried.push(host); return [{ address: '10.9.9.9', family: 4 }, { address: '127.0.0.1', family: 4 }]; });
    assert.equal(await response.text(), 'inside');
    assert.deepEqual(tried, ['localhost']);
    assert.equal(connections, 1);
  });

  it('a listed address reached under a name the certificate does not hold: TLS refuses it (the name is still verified)', async () => {
    const cause = await failure(get(`https://evil.test:${port}/`, ['127.0.0.1/32'], async () => [{ address: '127.0.0.1', family: 4 }]));
    assert.match(`${cause.message} ${(cause as { code?: string }).code}`, /ERR_TLS_CERT_ALTNAME_INVALID|altnames/i);
  });

  it('a listed address literal is reached (control)', async () => {
    const response = await get(`https://127.0.0.1:${port}/`, ['127.0.0.0/8']);
    assert.equal(await response.text(), 'inside');
  });
});
