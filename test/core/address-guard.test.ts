/**
 * The address guard of connections whose destination someone outside Gatehouse chose
 * (src/core/http/address-guard.ts): which addresses count as public, and that the connector
 * judges every address a name resolves to, connects only to one that passed, and still checks
 * the certificate against the name.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { fetch as undiciFetch, type Agent } from 'undici';
import { addressGuardedAgent, type ResolvedAddress } from '../../src/core/http/address-guard.ts';
import { isPublicAddress } from '../../src/core/net/public-address.ts';
import { selfSignedCert } from '../identity/support/harness.ts';
import { fetchFailure } from './support/fetch-failure.ts';

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
    server = createServer({ key, cert }, (req, res) => {
      if (req.url === '/close') res.setHeader('connection', 'close');
      res.end('inside');
    });
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


  it('SSRF to a loopback address literal is refused before connecting, naming the allow list to change', async () => {
    connections = 0;
    const cause = await fetchFailure(get(`https://127.0.0.1:${port}/`, []));
    assert.match(cause.message, /127\.0\.0\.1.*not a public address.*test\.privateNetworks/);
    assert.equal(connections, 0);
  });

  for (const spelling of ['0x7f.0.0.1', '2130706433', '0177.0.0.1', '127.1', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[0:0:0:0:0:ffff:7f00:1]', '[::1]', '[64:ff9b::7f00:1]']) {
    it(`SSRF to loopback spelled ${spelling} is refused before connecting`, async () => {
      connections = 0;
      const cause = await fetchFailure(get(`https://${spelling}:${port}/`, []));
      assert.match(cause.message, /not a public address/);
      assert.equal(connections, 0);
    });
  }

  it('SSRF through a name that resolves only to private addresses (metadata, loopback) is refused before connecting', async () => {
    connections = 0;
    const cause = await fetchFailure(get(`https://metadata.test:${port}/`, [], async () => [{ address: '169.254.169.254', family: 4 }, { address: '127.0.0.1', family: 4 }]));
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
    const cause = await fetchFailure(get(`https://evil.test:${port}/`, ['127.0.0.1/32'], async () => [{ address: '127.0.0.1', family: 4 }]));
    assert.match(`${cause.message} ${(cause as { code?: string }).code}`, /ERR_TLS_CERT_ALTNAME_INVALID|altnames/i);
  });

  it('TLS poisoning: a session the provider\'s name got from one address is not offered to another address the name later resolves to (the ticket\'s bytes would reach an internal service in a listed network)', async () => {
    // Rebinding: the name answers first with the server that hands out the session ticket, then
    // with another host of a listed network, where a plain TCP service reads the ClientHello.
    const hello = new Promise<Buffer>((resolve, reject) => {
      const inner = createTcpServer((socket: Socket) => {
        socket.once('data', (chunk: Buffer) => { resolve(chunk); socket.destroy(); inner.close(); });
      });
      inner.on('error', reject);
      inner.listen(port, '127.0.0.2');
    });
    let answers = 0;
    const resolve = async () => [{ address: answers++ === 0 ? '127.0.0.1' : '127.0.0.2', family: 4 }];
    const agent = addressGuardedAgent({ allowedNetworks: ['127.0.0.0/8'], allowListPath: 'test.privateNetworks', tls: { ca: cert }, resolve });
    agents.push(agent);
    const first = await undiciFetch(`https://localhost:${port}/close`, { dispatcher: agent });
    assert.equal(await first.text(), 'inside');
    await new Promise((r) => setTimeout(r, 50)); // the session ticket follows the handshake
    await undiciFetch(`https://localhost:${port}/again`, { dispatcher: agent }).catch(() => undefined);
    assert.equal(answers, 2, 'the second request did not open a new connection');
    assert.deepEqual(clientHelloExtensions(await hello).filter((type) => type === 0x29), [], 'the ClientHello offered a resumption ticket (pre_shared_key)');
  });

  it('a listed address literal is reached (control)', async () => {
    const response = await get(`https://127.0.0.1:${port}/`, ['127.0.0.0/8']);
    assert.equal(await response.text(), 'inside');
  });
});

/** The extension types of a TLS ClientHello record (RFC 8446 §4.1.2). */
function clientHelloExtensions(record: Buffer): number[] {
  assert.equal(record[0], 0x16, 'not a TLS handshake record');
  assert.equal(record[5], 0x01, 'not a ClientHello');
  let at = 5 + 4 + 2 + 32; // record header, handshake header, legacy_version, random
  at += 1 + record[at]!; // legacy_session_id
  at += 2 + record.readUInt16BE(at); // cipher_suites
  at += 1 + record[at]!; // legacy_compression_methods
  const end = at + 2 + record.readUInt16BE(at);
  const types: number[] = [];
  for (at += 2; at + 4 <= end; at += 4 + record.readUInt16BE(at + 2)) types.push(record.readUInt16BE(at));
  assert.ok(types.includes(0x2b), 'no supported_versions extension: the ClientHello was misread');
  return types;
}
